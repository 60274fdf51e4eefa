//go:build !nocore

package bench

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	cors "github.com/caddy-cors/cors"
)

func init() {
	libraries = append([]library{{name: "caddy-cors", build: buildCaddyCors}}, libraries...)
}

// buildCaddyCors provisions the handler the way Caddy does when it loads a
// config, and serves each request the way Caddy's server does: the request
// carries Caddy's context (replacer, vars) and the next handler is a
// caddyhttp.Handler.
func buildCaddyCors(p policy, next http.Handler) (http.Handler, error) {
	h := &cors.Handler{
		Methods:          p.methods,
		AllowedHeaders:   p.allowedHeaders,
		ExposedHeaders:   p.exposedHeaders,
		AllowCredentials: p.allowCredentials,
	}
	h.Origins = append(h.Origins, p.origins...)
	if p.maxAge != 0 {
		d := caddy.Duration(p.maxAge)
		h.MaxAge = &d
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	// The handler keeps nothing from ctx that the cancel would stop; the
	// benchmark process ends before anything would need cleaning up.
	_ = cancel
	if err := h.Provision(ctx); err != nil {
		return nil, err
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return caddyServer{cors: h, next: caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		next.ServeHTTP(w, r)
		return nil
	})}, nil
}

// caddyServer adapts a Caddy middleware to http.Handler, with what Caddy's
// server does around it that a benchmark can afford to do once per request
// value rather than per iteration.
type caddyServer struct {
	cors *cors.Handler
	next caddyhttp.Handler
}

func (s caddyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.cors.ServeHTTP(w, r, s.next); err != nil {
		// Caddy turns a handler error into a response with its status.
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			w.WriteHeader(he.StatusCode)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}
}
