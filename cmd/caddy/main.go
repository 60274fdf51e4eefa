// Command caddy is Caddy with the standard modules and the cors module, in
// Caddy's documented custom-main form, so that `go run ./cmd/caddy` runs the
// demo without xcaddy. Production builds use
// `xcaddy build --with github.com/caddy-cors/cors`.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddy-cors/cors"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
