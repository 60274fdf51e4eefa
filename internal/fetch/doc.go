// Package fetch holds the rules of the WHATWG Fetch standard that the cors
// module and the `caddy cors check` simulator both apply: what a token is,
// which methods and request headers a script may use, which of them a
// browser sends without a preflight, and how the CORS list headers split.
//
// One copy of these rules means the module never refuses what the simulator
// says a browser sends, nor the reverse. The functions are small and free of
// allocation where the module calls them for every request.
package fetch
