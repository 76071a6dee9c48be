package multiinstance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/otclient"
	"github.com/gdoc/gdoc/internal/testenv"
)

// TestSharingAcrossInstances: a private document shared with bob, whose
// connections sit on the two other instances; the owner's role change on
// one instance reaches both; with Redis stopped at the moment of a
// removal, the periodic re-check still closes both within its bound.
func TestSharingAcrossInstances(t *testing.T) {
	redisServer := testenv.Tool(t, redisServerPath)
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(redisServer, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	redisProc := testenv.StartProcess(t, "redis", cmd, nil)
	waitFor(t, 10*time.Second, "redis-server to accept connections", func() (bool, error) {
		if !redisProc.Alive() {
			return false, fmt.Errorf("redis-server exited:\n%s", redisProc.Tail(20))
		}
		return redisAnswers(port), nil
	})

	c := newCluster(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	c.startInstances(3)
	owner := register(t, c.instances[0].URL, "owner")
	bob := register(t, c.instances[0].URL, "bob")
	r := testenv.Call(t, "POST", c.instances[0].URL+"/api/documents", owner.Token, `{"title":"shared.txt","content":"text","visibility":"private"}`)
	var doc struct {
		ID string `json:"id"`
	}
	if r.Decode(t, &doc); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	base0, members := c.instances[0].URL, "/api/documents/"+doc.ID+"/members/"+bob.Username
	if r := testenv.Call(t, "PUT", base0+members, owner.Token, `{"role":"viewer"}`); r.Status != 200 {
		t.Fatalf("share as viewer: %d %s", r.Status, r.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var conns []*otclient.Conn
	var rev int64
	for _, inst := range c.instances[1:] {
		conn, init := join(t, ctx, inst.URL, doc.ID, bob)
		if role := roleOf(init); role != "viewer" {
			t.Fatalf("bob's init on %s: role %q", inst.Name, role)
		}
		conns, rev = append(conns, conn), init.Rev
	}
	if err := conns[0].SendOp(ctx, &otclient.Outgoing{Rev: rev, ID: "bob:1", Op: mustInsertAt0("x")}); err != nil {
		t.Fatal(err)
	}
	if e := readUntil(t, ctx, conns[0], "error"); e.Code != "forbidden" {
		t.Fatalf("viewer's op: %s", e.Raw)
	}

	// Promoted on instance 0: both connections hear it (the bus is up).
	if r := testenv.Call(t, "PUT", base0+members, owner.Token, `{"role":"editor"}`); r.Status != 200 {
		t.Fatalf("make editor: %d %s", r.Status, r.Body)
	}
	for i, conn := range conns {
		waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
		if m := readUntil(t, waitCtx, conn, "access"); roleOf(m) != "editor" {
			t.Fatalf("connection %d: %s", i, m.Raw)
		}
		stop()
	}
	if err := conns[1].SendOp(ctx, &otclient.Outgoing{Rev: rev, ID: "bob:2", Op: mustInsertAt0("bob ")}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, ctx, conns[1], "ack")

	// The bus goes away just before the removal: no event reaches the
	// other instances, and the periodic re-check (every 5 s) closes both.
	redisProc.Stop(syscall.SIGKILL)
	if r := testenv.Call(t, "DELETE", base0+members, owner.Token, ""); r.Status != http.StatusNoContent {
		t.Fatalf("remove bob: %d %s", r.Status, r.Body)
	}
	for i, conn := range conns {
		waitCtx, stop := context.WithTimeout(ctx, 20*time.Second)
		code := closeCode(waitCtx, conn)
		stop()
		if code != 4403 {
			t.Fatalf("connection %d after the removal with the bus down: closed with %d, want 4403", i, code)
		}
	}
	// And a new join is refused everywhere.
	for _, inst := range c.instances {
		if _, _, err := otclient.Dial(ctx, inst.URL, doc.ID, bob.Token, -1); err == nil || websocket.CloseStatus(err) != 4403 {
			t.Fatalf("bob's join on %s after the removal: %v, want 4403", inst.Name, err)
		}
	}
}

func roleOf(m *otclient.Message) string {
	var v struct {
		Role string `json:"role"`
	}
	_ = json.Unmarshal(m.Raw, &v)
	return v.Role
}

// closeCode reads until the connection closes and returns its close code
// (-1 when it ended otherwise).
func closeCode(ctx context.Context, conn *otclient.Conn) websocket.StatusCode {
	for {
		if _, err := conn.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}
