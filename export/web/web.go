// Package web serves Hindsight's web view: the incident list at / and one
// incident's timeline at /incidents/{id}, kept live by the API's event
// stream. Everything it serves is embedded in the binary (no CDN, no
// build step, no request to anywhere but the daemon): the pages are
// plain HTML, CSS and JavaScript that draw from the JSON API, so the
// browser sees exactly what hindsightctl and scripts see.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// contentSecurityPolicy keeps the page to its own origin: nothing is
// loaded from, sent to or framed by anywhere else, and no inline script
// runs (incident text is data, never markup).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Routes returns the web view's routes as method+pattern to handler, for
// the daemon to register beside the API (and behind the same access
// control as its reads).
func Routes() map[string]http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed is fixed at build time
	}
	page := page(sub)
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	static := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no listings
			return
		}
		files.ServeHTTP(w, r)
	})
	return map[string]http.Handler{
		"GET /{$}":            page,
		"GET /incidents/{id}": page,
		"GET /static/":        headers(static),
	}
}

// page answers every page with the same shell; the script reads the
// path and draws the list or the incident.
func page(sub fs.FS) http.Handler {
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return headers(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
	}))
}

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		// The assets change with the binary; revalidating is cheap.
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
