package httpapi

import (
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

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
				if servePrecompressed(w, r, assets, name) {
					return
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

// precompressed are the encodings the web build writes beside a file
// (name.br, name.gz), in the order the server prefers them.
var precompressed = []struct{ encoding, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

// servePrecompressed answers with name's brotli or gzip copy made at build
// time when the client accepts that encoding, and reports whether it did.
// Any file that has such a copy varies by Accept-Encoding, whichever form
// is sent; a client that accepts neither gets the file as it is.
func servePrecompressed(w http.ResponseWriter, r *http.Request, assets fs.FS, name string) bool {
	var variants []string
	for _, pc := range precompressed {
		if st, err := fs.Stat(assets, name+pc.suffix); err == nil && !st.IsDir() {
			variants = append(variants, pc.encoding)
		}
	}
	if len(variants) == 0 {
		return false
	}
	w.Header().Add("Vary", "Accept-Encoding")
	for _, pc := range precompressed {
		if !slices.Contains(variants, pc.encoding) || !acceptsEncoding(r.Header.Values("Accept-Encoding"), pc.encoding) {
			continue
		}
		f, err := assets.Open(name + pc.suffix)
		if err != nil {
			return false
		}
		defer f.Close()
		rs, ok := f.(io.ReadSeeker)
		if !ok {
			return false
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Encoding", pc.encoding)
		http.ServeContent(w, r, name, time.Time{}, rs)
		return true
	}
	return false
}

// acceptsEncoding reports whether an Accept-Encoding header (RFC 9110
// §12.5.3) allows coding: named, or covered by "*", with a non-zero q.
func acceptsEncoding(header []string, coding string) bool {
	star := false
	for _, line := range header {
		for item := range strings.SplitSeq(line, ",") {
			token, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			token = strings.ToLower(strings.TrimSpace(token))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			switch token {
			case coding:
				return q > 0
			case "*":
				star = q > 0
			}
		}
	}
	return star
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
