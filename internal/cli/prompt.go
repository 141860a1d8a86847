package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// confirm asks on s.Err and reads the answer from s.In; only y or yes goes
// on. When s.In is not a terminal it refuses, naming the command with
// --yes.
func confirm(s Streams, question, withYes string) error {
	if !s.InTerminal {
		return fmt.Errorf("not asking: standard input is not a terminal; run '%s' to go ahead without a question", withYes)
	}
	fmt.Fprintf(s.Err, "%s Only 'yes' goes on: ", question)
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
		return errors.New("cancelled: nothing was changed")
	}
	return nil
}
