package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// confirm asks question on s.Err and reads the answer from s.In. Only
// "yes" goes on (spaces around it aside): the question guards deleting a
// hub or changing cloud resources, so a habitual "y" or a stray Enter is
// not consent. When s.In is not a terminal nobody can answer: it refuses,
// naming withYes, the command that goes ahead without a question.
func confirm(s Streams, question, withYes string) error {
	if !s.InTerminal {
		return fmt.Errorf("not asking: standard input is not a terminal; run '%s' to go ahead without a question", withYes)
	}
	fmt.Fprintf(s.Err, "%s Only 'yes' goes on: ", question)
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if errors.Is(err, io.EOF) {
		// Ctrl-D ends the answer without a newline: the error that
		// follows gets a line of its own.
		fmt.Fprintln(s.Err)
	} else if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "yes" {
		return errors.New("cancelled (only 'yes' goes on): nothing was changed")
	}
	return nil
}
