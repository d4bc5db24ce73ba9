// Package writertest starts and stops a real fstatcached for tests, as
// tests/harness.c does for the C tests: each writer gets a unique instance
// name and a private directory (its control socket lives there), readiness
// comes from --ready-fd (no test waits by sleeping), and Stop checks that
// the writer exited 0 and left nothing in /dev/shm.  The writer binary is
// $FSTATCACHED (meson sets it); without it the test is skipped, saying so.
package writertest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Guard is the hang guard of every wait: a test fails after it, but
// never depends on it for its answers.
const Guard = time.Minute

// Writer is one fstatcached.
type Writer struct {
	T     *testing.T
	Name  string
	Dir   string
	Sock  string
	extra []string
	cmd   *exec.Cmd
}

func binary(t *testing.T) string {
	p := os.Getenv("FSTATCACHED")
	if p == "" {
		t.Skip("FSTATCACHED is not set: run through `meson test`, or set it to a built fstatcached")
	}
	return p
}

// Start starts a writer with extra arguments and waits until it serves;
// the test's cleanup kills it if the test did not stop it.
func Start(t *testing.T, extra ...string) *Writer {
	binary(t)
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	w := &Writer{T: t, Name: fmt.Sprintf("go%dx%s", os.Getpid(), hex.EncodeToString(r[:])),
		Dir: t.TempDir(), extra: extra}
	w.Sock = filepath.Join(w.Dir, "ctl.sock")
	w.Spawn()
	t.Cleanup(w.cleanup)
	return w
}

// Path is rel inside the writer's private directory.
func (w *Writer) Path(rel string) string { return filepath.Join(w.Dir, rel) }

// Spawn starts the writer (again: same name, directory and arguments).
func (w *Writer) Spawn() {
	t := w.T
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--name", w.Name, "--socket", w.Sock, "--ready-fd", "3", "--quiet"}, w.extra...)
	if ev := os.Getenv("FSCT_EVENTS"); ev != "" {
		args = append(args, "--events", ev)
	}
	w.cmd = exec.Command(binary(t), args...)
	w.cmd.ExtraFiles = []*os.File{pw} // fd 3
	w.cmd.Stderr = os.Stderr
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		pr.Close()
		if line != "READY\n" {
			err := w.cmd.Wait()
			w.cmd = nil
			t.Fatalf("writer %s ended before READY (%q): %v", w.Name, line, err)
		}
	case <-time.After(Guard):
		w.cmd.Process.Kill()
		w.cmd.Wait()
		w.cmd = nil
		t.Fatalf("writer %s not READY within %v (hang guard)", w.Name, Guard)
	}
}

// Kill sends sig and reaps the writer; its wait error.
func (w *Writer) Kill(sig syscall.Signal) error {
	if w.cmd == nil {
		return nil
	}
	_ = w.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(Guard):
		w.cmd.Process.Kill()
		err = <-done
		w.T.Errorf("writer %s did not exit within %v; killed it", w.Name, Guard)
	}
	w.cmd = nil
	return err
}

func (w *Writer) shmLeft() []string {
	m, _ := filepath.Glob("/dev/shm/fstatcache." + w.Name + "*")
	return m
}

// Stop: SIGTERM, exit 0, no segment or socket left behind.
func (w *Writer) Stop() {
	if err := w.Kill(syscall.SIGTERM); err != nil {
		w.T.Errorf("writer %s: %v, want exit 0", w.Name, err)
	}
	if left := w.shmLeft(); len(left) != 0 {
		w.T.Errorf("writer %s left %v", w.Name, left)
	}
	if _, err := os.Lstat(w.Sock); err == nil {
		w.T.Errorf("writer %s left its socket", w.Name)
	}
}

func (w *Writer) cleanup() {
	if w.cmd != nil {
		w.Kill(syscall.SIGKILL)
	}
	for _, p := range w.shmLeft() {
		os.Remove(p)
	}
}

// WriteFile writes (or, with app, appends) text to path, creating it.
func WriteFile(t *testing.T, path, text string, app bool) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if app {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
