package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gdoc/gdoc/internal/config"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/sqlite"
)

const backupUsage = `Usage: gdoc backup [flags] FILE

Writes a consistent copy of the embedded SQLite database (DATA_DIR/gdoc.db,
or the sqlite:// DATABASE_URL) to FILE, which must not exist. It is safe
while the server runs: the copy holds every edit committed before it began.
Takes the server's flags and environment (see gdoc --help). For PostgreSQL
use pg_dump (see README).
`

// runBackup is "gdoc backup [flags] FILE": args[0] is the program, args[1]
// "backup", FILE the last argument.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	rest := args[2:]
	for _, a := range rest {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, backupUsage)
			return nil
		}
	}
	if len(rest) == 0 || strings.HasPrefix(rest[len(rest)-1], "-") {
		return &config.Error{Message: "gdoc backup needs the file to write, as its last argument: gdoc backup [flags] FILE."}
	}
	dest := rest[len(rest)-1]
	cfg, err := config.Load(append([]string{args[0]}, rest[:len(rest)-1]...), getenv, io.Discard)
	if err != nil {
		return err
	}
	if cfg.Postgres() {
		return &config.Error{Message: "gdoc backup copies the embedded SQLite database; DATABASE_URL names PostgreSQL, so use pg_dump (see README, \"Backups\")."}
	}
	if err := sqlite.Backup(ctx, cfg.SQLitePath(), dest); err != nil {
		if gdoc.ErrorCode(err) == gdoc.EINVALID {
			return &config.Error{Message: gdoc.ErrorMessage(err)}
		}
		return err
	}
	size := int64(-1)
	if st, err := os.Stat(dest); err == nil {
		size = st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Fprintf(stdout, "gdoc: backup of %s written to %s (%d bytes)\n", cfg.SQLitePath(), dest, size)
	return nil
}
