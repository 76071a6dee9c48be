package httpapi

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docsHandler serves /docs: the web build's docs.html (swagger-ui bundled,
// no CDN), or, when the client is not built, a plain page listing every
// endpoint of the OpenAPI description.
func docsHandler(assets fs.FS, oapi *huma.OpenAPI) http.Handler {
	if assets != nil {
		if page, err := fs.ReadFile(assets, "docs.html"); err == nil {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Cache-Control", "no-cache")
				w.Write(page)
			})
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(endpointListPage(oapi))
	})
}

func endpointListPage(oapi *huma.OpenAPI) []byte {
	var b strings.Builder
	title := html.EscapeString(oapi.Info.Title)
	fmt.Fprintf(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s API</title>\n", title)
	b.WriteString("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code{background:#eee;padding:0 .25rem}td{padding:.25rem .75rem;vertical-align:top}</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s API</h1>\n<p>The machine-readable description is <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI %s). Errors are <code>{\"detail\": \"…\"}</code>. Authenticate with <code>Authorization: Bearer &lt;access_token&gt;</code>.</p>\n",
		title, html.EscapeString(oapi.OpenAPI))
	b.WriteString("<table><tr><th>Method</th><th>Path</th><th>Summary</th></tr>\n")
	prefix := ""
	if len(oapi.Servers) > 0 {
		prefix = strings.TrimRight(oapi.Servers[0].URL, "/")
	}
	paths := make([]string, 0, len(oapi.Paths))
	for p := range oapi.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		item := oapi.Paths[p]
		for _, m := range []struct {
			name string
			op   *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"DELETE", item.Delete}, {"PATCH", item.Patch}} {
			if m.op == nil {
				continue
			}
			fmt.Fprintf(&b, "<tr><td><code>%s</code></td><td><code>%s</code></td><td>%s</td></tr>\n",
				m.name, html.EscapeString(prefix+p), html.EscapeString(m.op.Summary))
		}
	}
	b.WriteString("<tr><td><code>GET</code></td><td><code>/ws/{document_id}</code></td><td>Real-time editing (WebSocket; see docs/protocol.md)</td></tr>\n")
	b.WriteString("<tr><td><code>GET</code></td><td><code>/healthz</code>, <code>/readyz</code></td><td>Process up; database reachable</td></tr>\n")
	b.WriteString("</table>\n</body></html>\n")
	return []byte(b.String())
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>G-Doc</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto">
<h1>G-Doc</h1>
<p>The server is running, but the web client is not built: run <code>make build</code> and start <code>bin/gdoc</code>.</p>
<p>The API is described at <a href="/docs">/docs</a>.</p>
</body></html>
`

// fallbackHandler answers every request no other route took: 405 or 404
// {"detail"} under /api and /ws, and otherwise the web client (a file of the
// build, or index.html for client-side routes).
func fallbackHandler(mux *http.ServeMux, assets fs.FS) http.Handler {
	var files http.Handler
	if assets != nil {
		files = http.FileServerFS(assets)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/api" || strings.HasPrefix(p, "/api/") || p == "/ws" || strings.HasPrefix(p, "/ws/") {
			if allow := allowedMethods(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeDetail(w, http.StatusMethodNotAllowed, "Method not allowed.")
				return
			}
			writeDetail(w, http.StatusNotFound, "Not found.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeDetail(w, http.StatusMethodNotAllowed, "Method not allowed.")
			return
		}
		if assets == nil {
			if p != "/" && p != "/index.html" {
				writeDetail(w, http.StatusNotFound, "Not found.")
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(notBuiltPage))
			return
		}
		name := strings.TrimPrefix(p, "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(assets, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(p, "/assets/") {
					// Vite puts a content hash in every file name under assets/.
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(p, "/assets/") || hasFileExtension(name) {
				writeDetail(w, http.StatusNotFound, "Not found.")
				return
			}
		}
		index, err := fs.ReadFile(assets, "index.html")
		if errors.Is(err, fs.ErrNotExist) {
			writeDetail(w, http.StatusNotFound, "Not found.")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(index)
	})
}

// hasFileExtension reports whether the last segment looks like a file name
// (a missing file there is a 404, not a client-side route).
func hasFileExtension(name string) bool {
	last := name[strings.LastIndex(name, "/")+1:]
	return strings.Contains(last, ".")
}

// allowedMethods lists the methods another route serves r's path with.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}
