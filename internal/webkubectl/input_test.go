package webkubectl

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestOfferInput: input for a command that does not read its terminal is
// dropped (and says so) instead of blocking the session; Ctrl-C then still
// stops the command, by a signal to its process group.
func TestOfferInput(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	r := &running{cmd: cmd, input: make(chan []byte, 2)}

	// Room in the queue: taken, in order.
	if offerInput(r, "get pods\r") || offerInput(r, "x") {
		t.Fatal("input dropped while the queue had room")
	}
	if got := string(<-r.input); got != "get pods\r" {
		t.Fatalf("first input %q", got)
	}
	if offerInput(r, "y") {
		t.Fatal("input dropped while the queue had room")
	}
	// The queue is full now (the command reads nothing): dropped at once.
	dropped := make(chan bool, 1)
	go func() { dropped <- offerInput(r, "more") }()
	select {
	case d := <-dropped:
		if !d {
			t.Fatal("input into a full queue was not dropped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("offerInput blocked on a command that does not read")
	}

	// Ctrl-C into the full queue is not dropped: it interrupts the command.
	if offerInput(r, "\x03") {
		t.Fatal("Ctrl-C reported as dropped")
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("sleep ended with %v, want a signal", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("sleep ended with %v, want SIGINT", err)
	}
}
