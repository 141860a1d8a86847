package cli

import (
	"io"
	"os"
)

// Streams are where a command reads and writes: data on Out, progress and
// warnings on Err, answers to questions from In. Whether each is a
// terminal is carried here, not found out from the stream: a prompt or a
// secret is for a person, and tests stand in for one.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// InTerminal says a person types on In: only then does a verb ask
	// before it deletes or changes cloud resources.
	InTerminal bool
	// OutTerminal says Out is read by a person: a credential printed
	// there gets a note on Err.
	OutTerminal bool
	// ErrTerminal says Err is read by a person: only then is a generated
	// password shown, once.
	ErrTerminal bool
}

// SystemStreams are the process's standard input, output and error, each
// marked a terminal or not from what it is.
func SystemStreams() Streams {
	return Streams{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTerminal:  isTerminal(os.Stdin),
		OutTerminal: isTerminal(os.Stdout),
		ErrTerminal: isTerminal(os.Stderr),
	}
}

// isTerminal reports whether f is a character device, as a terminal is.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
