package config

import (
	"fmt"
	"strings"
)

// Error is one problem in a configuration, placed where an operator can find
// it. Its text is `FILE:LINE: MESSAGE`, and MESSAGE names the key path, as in
// `hindsight.yml:9: services.checkout.tier must be between 1 and 5, got 7`.
type Error struct {
	// File is the base name of the configuration file; empty for [Load].
	File string
	// Line is the 1-based line of the offending key or value; 0 when the
	// problem has no place in the file.
	Line int
	// Msg says what is wrong, starting with the key path where there is one.
	Msg string
}

// Error formats the problem as FILE:LINE: MESSAGE, leaving out what is not
// known; without a file the line reads `line N: MESSAGE`.
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	default:
		return e.Msg
	}
}

// Errors is every problem found in one configuration, in the order of the
// file. It prints on one line, problems separated by "; ", because the daemon
// refuses a bad file with a single line on stderr; range over it to print one
// problem per line instead.
type Errors []*Error

// Error joins the problems with "; ".
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap gives errors.As and errors.AsType access to each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
