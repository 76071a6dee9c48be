// Package testenv holds what G-Doc's tests share: real services from the environment, the server binary, processes.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ci reports whether the tests run in CI, where a missing service is a
// failure rather than a reason to skip.
func ci() bool { return os.Getenv("CI") == "true" }

// required returns the value of the environment variable name. When it is
// unset the test skips with a loud message, or fails under CI=true.
func required(t testing.TB, name, example, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if ci() {
			t.Fatalf("%s is not set, and CI=true: %s must be tested in CI (set it, e.g. %s)", name, what, example)
		}
		t.Skipf("SKIPPING %s: %s is not set, so %s is NOT tested. Set it, e.g. %s", t.Name(), name, what, example)
	}
	return v
}

// PostgresURL returns TEST_DATABASE_URL: skips loudly when it is unset,
// fails under CI=true.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return required(t, "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL")
}

// RedisURL returns TEST_REDIS_URL: skips loudly when it is unset, fails
// under CI=true.
func RedisURL(t testing.TB) string {
	t.Helper()
	return required(t, "TEST_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis")
}

// Tool returns the full path of the executable path: skips loudly when it
// is not installed, fails under CI=true.
func Tool(t testing.TB, path string) string {
	t.Helper()
	full, err := exec.LookPath(path)
	if err != nil {
		if ci() {
			t.Fatalf("%s not found, and CI=true: %v", path, err)
		}
		t.Skipf("SKIPPING %s: %s not found (%v)", t.Name(), path, err)
	}
	return full
}

// RandomHex returns n random bytes in hex: names that concurrent test runs
// do not share.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FreshDatabase creates an empty database on the PostgreSQL server of
// TEST_DATABASE_URL, drops it when the test ends, and returns its URL.
func FreshDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	name := "gdoc_test_" + RandomHex(6)
	mustExec(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { cleanupExec(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// FreshSchema creates an empty schema in the database of TEST_DATABASE_URL,
// drops it when the test ends, and returns the URL with search_path set to
// it.
func FreshSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	schema := "gdoc_test_" + RandomHex(6)
	mustExec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { cleanupExec(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func mustExec(t testing.TB, dbURL, sql string) {
	t.Helper()
	if err := execOnce(dbURL, sql); err != nil {
		t.Fatal(err)
	}
}

// cleanupExec reports a failed statement without stopping the other
// cleanups.
func cleanupExec(t testing.TB, dbURL, sql string) {
	t.Helper()
	if err := execOnce(dbURL, sql); err != nil {
		t.Error(err)
	}
}

// execOnce runs one statement on a connection of its own. CREATE and DROP
// DATABASE wait for a checkpoint, which on a busy shared machine has taken
// over 10 s: the bound is generous so it fails only when PostgreSQL is stuck.
func execOnce(dbURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("PostgreSQL at TEST_DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
