package httpapi

import (
	"encoding/json"
	"testing"
)

func TestHistoryInOpenAPI(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	r := do(t, "GET", srv.URL+"/api/openapi.json", "", "")
	var spec struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &spec); err != nil {
		t.Fatal(err)
	}
	for path, method := range map[string]string{
		"/documents/{id}/history": "get", "/documents/{id}/revisions/{rev}": "get", "/documents/{id}/restore": "post",
		"/documents/{id}/blame": "get", "/documents/{id}/download": "get",
	} {
		if spec.Paths[path][method] == nil {
			t.Errorf("openapi lacks %s %s", method, path)
		}
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ title, language, want string }{
		{"main.go", "go", "main.go"},
		{"My Project", "plaintext", "My Project.txt"},
		{"script", "python", "script.py"},
		{"notes", "unknown-lang", "notes.txt"},
		{"Dockerfile", "dockerfile", "Dockerfile"},
		{`a/b\c:"d"`, "go", "a_b_c__d_.go"},
		{"  ..  ", "go", "document.go"},
		{"café 日本", "markdown", "café 日本.md"},
	} {
		if got := FileName(tc.title, tc.language); got != tc.want {
			t.Errorf("FileName(%q, %q) = %q, want %q", tc.title, tc.language, got, tc.want)
		}
	}
	if got := contentDisposition("café.md"); got != `attachment; filename="caf_.md"; filename*=UTF-8''caf%C3%A9.md` {
		t.Errorf("contentDisposition = %s", got)
	}
}
