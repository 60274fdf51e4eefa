package cors

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// originSource reads `origin_source <name> [<args>...] { ... }`: the module
// http.handlers.cors.origins.<name> reads the rest of the segment itself,
// as reverse_proxy's `dynamic` and on_demand_tls's `permission` do.
func (h *Handler) originSource(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.Err("cors: origin_source needs a source, e.g. origin_source http http://localhost:5555/cors-ask, origin_source file /etc/caddy/origins.txt or origin_source storage cors/origins.txt")
	}
	name := d.Val()
	id := "http.handlers.cors.origins." + name
	if _, err := caddy.GetModule(id); err != nil {
		d.RemainingArgs()
		for nesting := d.Nesting(); d.NextBlock(nesting); {
		}
		return d.Errf("cors: unknown origin source %q: write http, file or storage (or the name of a module in http.handlers.cors.origins)", name)
	}
	unm, err := caddyfile.UnmarshalModule(d, id)
	if err != nil {
		return err
	}
	if _, ok := unm.(OriginSource); !ok {
		return d.Errf("cors: module %s (%T) is not an origin source", id, unm)
	}
	h.SourcesRaw = append(h.SourcesRaw, caddyconfig.JSONModuleObject(unm, "source", name, nil))
	return nil
}

// originCacheBlock reads `origin_cache { ... }`. A bad value is reported
// with the user's token at its line, and left out of the config.
func (h *Handler) originCacheBlock(d *caddyfile.Dispenser, errorf func(string, ...any)) {
	if d.NextArg() {
		errorf("origin_cache takes a block, not %q: write origin_cache { allow_ttl 5m }", d.Val())
		d.RemainingArgs()
	}
	if h.OriginCache != nil {
		errorf("origin_cache is given twice: keep one")
	}
	oc := new(OriginCache)
	h.OriginCache = oc
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		args := d.RemainingArgs()
		var dst *caddy.Duration
		switch sub {
		case "allow_ttl":
			dst = &oc.AllowTTL
		case "deny_ttl":
			dst = &oc.DenyTTL
		case "stale_if_error":
			dst = &oc.StaleIfError
		case "max_entries":
			if len(args) != 1 {
				errorf("max_entries takes one number, e.g. max_entries 10000%s", extraArgs(args))
				continue
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n <= 0 {
				errorf("max_entries %q is not a positive number: write e.g. max_entries 10000", args[0])
				continue
			}
			oc.MaxEntries = n
			continue
		default:
			errorf("unknown origin_cache setting %q: write one of allow_ttl, deny_ttl, stale_if_error, max_entries", sub)
			continue
		}
		if len(args) != 1 {
			errorf("%s takes one duration, e.g. %s 5m%s", sub, sub, extraArgs(args))
			continue
		}
		v, err := caddy.ParseDuration(args[0])
		switch {
		case err != nil:
			errorf("%s %q: %v: write a duration such as 5m", sub, args[0], err)
		case v < 0:
			errorf("%s %q is negative: write a duration such as 5m, or leave %s out for its default", sub, args[0], sub)
		case v == 0:
			errorf("%s %q: write a positive duration such as %s, or leave %s out for its default", sub, args[0], "5m", sub)
		default:
			*dst = caddy.Duration(v)
		}
	}
}
