module github.com/caddy-cors/cors

go 1.26.0

require (
	github.com/caddyserver/caddy/v2 v2.11.9
	golang.org/x/net v0.62.0
)
