// Command caddy is Caddy with the standard modules and the cors handler of
// this repository, built from the bench module so that the load test runs
// the working tree's handler (the module proxy does not serve it).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddy-cors/cors"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
