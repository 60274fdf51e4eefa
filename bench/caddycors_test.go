package bench

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	cors "github.com/caddy-cors/cors"
)

func init() {
	libraries = append([]library{{name: "caddy-cors", build: buildCaddyCors}}, libraries...)
}

// caddyConfig is the context of a running Caddy config, loaded once. A
// context made with caddy.NewContext alone has no config, and its Logger is
// zap's development logger at debug level: every refusal would then be
// logged, which Caddy never does with its default (info) level.
var caddyConfig = sync.OnceValues(func() (caddy.Context, error) {
	cfg := `{"admin": {"disabled": true, "config": {"persist": false}},
		"logging": {"logs": {"default": {"level": "INFO"}}}}`
	if err := caddy.Load([]byte(cfg), true); err != nil {
		return caddy.Context{}, err
	}
	return caddy.ActiveContext(), nil
})

// buildCaddyCors loads the handler from its JSON config the way Caddy does
// (LoadModuleByID unmarshals, provisions and validates it, with the config's
// logger and metrics registry), and serves each request the way Caddy's
// server does: the request carries Caddy's context (see newRequest) and the
// next handler is a caddyhttp.Handler.
func buildCaddyCors(p policy, next http.Handler) (http.Handler, error) {
	ctx, err := caddyConfig()
	if err != nil {
		return nil, err
	}
	h := cors.Handler{
		Origins:          p.origins,
		Methods:          p.methods,
		AllowedHeaders:   p.allowedHeaders,
		ExposedHeaders:   p.exposedHeaders,
		AllowCredentials: p.allowCredentials,
	}
	if p.maxAge != 0 {
		d := caddy.Duration(p.maxAge.Round(time.Second))
		h.MaxAge = &d
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	mod, err := ctx.LoadModuleByID("http.handlers.cors", raw)
	if err != nil {
		return nil, err
	}
	return caddyServer{cors: mod.(*cors.Handler), next: caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		next.ServeHTTP(w, r)
		return nil
	})}, nil
}

// caddyServer adapts a Caddy middleware handler to http.Handler.
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
