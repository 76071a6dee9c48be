package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// Backup writes a consistent copy of the database file at src to dest with
// VACUUM INTO: one read transaction, so the copy holds exactly the commits
// made before it began, while a running server goes on writing (WAL readers
// never block the writer). The copy is written under a temporary name,
// checked, synced and then renamed, so dest is either absent or complete.
// EINVALID when src is missing or dest exists.
func Backup(ctx context.Context, src, dest string) error {
	if src == "" || strings.ContainsAny(src, "?#") || strings.HasPrefix(src, ":") || strings.HasPrefix(src, "file:") {
		return gdoc.Errorf(gdoc.EINVALID, "SQLite path %q must be a plain file path.", src)
	}
	if st, err := os.Stat(src); err != nil || st.IsDir() {
		return gdoc.Errorf(gdoc.EINVALID, "There is no database at %s (set DATA_DIR or DATABASE_URL as the server does).", src)
	}
	if _, err := os.Lstat(dest); err == nil {
		return gdoc.Errorf(gdoc.EINVALID, "%s already exists; a backup never overwrites a file, so choose a new name.", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	dir := filepath.Dir(dest)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return gdoc.Errorf(gdoc.EINVALID, "The directory %s of the backup does not exist.", dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	os.Remove(tmpPath) // VACUUM INTO wants a path that does not exist yet
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmpPath)
		}
	}()

	params := url.Values{}
	params.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", src+"?"+params.Encode())
	if err != nil {
		return fmt.Errorf("backup: open: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmpPath); err != nil {
		return fmt.Errorf("backup: vacuum into: %w", err)
	}
	if err := check(ctx, tmpPath); err != nil {
		return err
	}
	if err := syncFile(tmpPath); err != nil {
		return err
	}
	// Link, not rename: it fails rather than replace a dest created meanwhile.
	if err := os.Link(tmpPath, dest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return gdoc.Errorf(gdoc.EINVALID, "%s already exists; a backup never overwrites a file, so choose a new name.", dest)
		}
		return fmt.Errorf("backup: %w", err)
	}
	ok = true
	os.Remove(tmpPath)
	return syncFile(dir)
}

// check runs SQLite's quick_check on the copy.
func check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("backup: open the copy: %w", err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&result); err != nil {
		return fmt.Errorf("backup: check the copy: %w", err)
	}
	if result != "ok" {
		return fmt.Errorf("backup: the copy failed SQLite's check: %s", result)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", path, err)
	}
	return nil
}
