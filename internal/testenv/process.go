package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a child process whose stdout and stderr go to a log file, the
// end of which is printed when the test fails.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string

	exited  chan struct{}
	waitErr error
}

// StartProcess starts cmd with its output in a log file named for name;
// onStdoutLine, when set, sees each stdout line. The process dies with the
// test process (on Linux) and is stopped with SIGTERM when the test ends.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd, onStdoutLine func(string)) *Process {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Name: name, Cmd: cmd, LogPath: logFile.Name(), exited: make(chan struct{})}
	if cmd.SysProcAttr == nil {
		DieWithTest(cmd, syscall.SIGKILL)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(logFile, line)
			if onStdoutLine != nil {
				onStdoutLine(line)
			}
		}
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("--- last lines of %s (%s) ---\n%s", name, p.LogPath, p.Tail(40))
		}
	})
	return p
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitErr is how the process ended (nil for exit status 0); valid once
// Exited is closed.
func (p *Process) WaitErr() error { return p.waitErr }

// Alive reports whether the process still runs.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends sig and waits for the process to end, killing it after 10 s.
func (p *Process) Stop(sig syscall.Signal) {
	if !p.Alive() {
		return
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.exited
	}
}

// Kill is kill -9: the process gets no chance to flush or close anything.
func (p *Process) Kill() { p.Stop(syscall.SIGKILL) }

// Tail returns the last lines of the process's log.
func (p *Process) Tail(lines int) string { return Tail(p.LogPath, lines) }

// Tail returns the last lines of the file at path (or why it cannot).
func Tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// BuildServer returns the cmd/gdoc binary, built once per test binary (see
// Main), or GDOC_BIN when that names an already built one.
func BuildServer(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("GDOC_BIN"); bin != "" {
		return bin
	}
	build.once.Do(func() {
		if build.dir, build.err = os.MkdirTemp("", "gdoc-testenv-bin-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "gdoc")
		out, err := exec.Command("go", "build", "-o", build.bin, "github.com/gdoc/gdoc/cmd/gdoc").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/gdoc: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// Main runs the tests and removes the binary BuildServer built; a test
// package that calls BuildServer calls Main from its TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// ModuleRoot is the repository root.
var ModuleRoot = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "../.."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
})

// Server is a running cmd/gdoc process.
type Server struct {
	*Process
	URL string // http://127.0.0.1:port
}

var listeningLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// LaunchServer runs the server binary on a random port of 127.0.0.1 with
// dataDir as its data and working directory (so no stray .env file is read)
// and env (KEY=value) added, and waits for its "listening on" line. Unlike
// StartServer it may be called from any goroutine.
func LaunchServer(t testing.TB, name, dataDir string, env ...string) (*Server, error) {
	cmd := exec.Command(BuildServer(t))
	cmd.Dir = dataDir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dataDir,
		"HOST=127.0.0.1", "PORT=0", "DATA_DIR=" + dataDir}, env...)
	found := make(chan string, 1)
	p := StartProcess(t, name, cmd, func(line string) {
		if m := listeningLine.FindStringSubmatch(line); m != nil {
			select {
			case found <- m[1]:
			default:
			}
		}
	})
	select {
	case u := <-found:
		return &Server{Process: p, URL: u}, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v):\n%s", name, p.waitErr, p.Tail(40))
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s did not print its address within 30 s:\n%s", name, p.Tail(40))
	}
}

// StartServer is LaunchServer that fails the test when the server does not
// start.
func StartServer(t testing.TB, name, dataDir string, env ...string) *Server {
	t.Helper()
	s, err := LaunchServer(t, name, dataDir, env...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
