package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// finish prints the summary and picks the exit code.
func (imp *importer) finish(ctx context.Context, total int, elapsed time.Duration) int {
	code := exitOK
	if imp.rep != nil {
		if err := imp.rep.close(); err != nil {
			fmt.Fprintln(imp.stderr, "b24import:", err)
			code = exitFatal
		}
	}
	if imp.jrnl != nil {
		if err := imp.jrnl.close(); err != nil {
			imp.setFatal(err)
		}
	}
	t := &imp.tally
	t.printSummary(imp.stdout, elapsed)
	if imp.rep != nil {
		fmt.Fprintf(imp.stdout, "report: %s\n", imp.cfg.reportPath)
	}
	if n, err := imp.writeRejects(); err != nil {
		fmt.Fprintln(imp.stderr, "b24import:", err)
		code = exitFatal
	} else if imp.cfg.keys.rejects != "" && n == 0 {
		fmt.Fprintf(imp.stdout, "rejects: %s (no row was rejected)\n", imp.cfg.keys.rejects)
	} else if imp.cfg.keys.rejects != "" {
		fmt.Fprintf(imp.stdout, "rejects: %s (%d rows: fix them and import that file)\n", imp.cfg.keys.rejects, n)
	}
	imp.listProblems()
	unreached := 0
	if total >= 0 && t.done() < total {
		unreached = total - t.done()
	}
	if err := imp.fatalErr(); err != nil {
		fmt.Fprintf(imp.stderr, "b24import: stopped: %s\n", trimB24(err.Error()))
		if errors.Is(err, b24.ErrInvalidCredentials) && imp.cfg.webhookURL != "" {
			fmt.Fprintf(imp.stderr, "b24import: %s\n", credentialsHint)
		}
		if unreached > 0 {
			fmt.Fprintf(imp.stderr, "b24import: %d rows were not reached\n", unreached)
		}
		imp.resumeHint()
		return exitFatal
	}
	if ctx.Err() != nil {
		fmt.Fprintf(imp.stderr, "b24import: interrupted: the calls in flight were finished and recorded; %d rows were not reached\n", unreached)
		imp.resumeHint()
		return exitInterrupted
	}
	if code == exitOK && !t.allImported() {
		code = exitIncomplete
	}
	return code
}

// listProblems prints the first rows that did not end imported, with file
// and line, sorted by line.
func (imp *importer) listProblems() {
	if len(imp.problems) == 0 || imp.cfg.demo {
		return
	}
	n := imp.tally.rejected + imp.tally.unknown + imp.tally.notSent
	slices.SortFunc(imp.problems, func(a, b problem) int { return a.line - b.line })
	switch {
	case n > len(imp.problems) && imp.rep != nil:
		fmt.Fprintf(imp.stderr, "b24import: %d rows not imported; the first %d (the report lists all):\n", n, len(imp.problems))
	case n > len(imp.problems):
		fmt.Fprintf(imp.stderr, "b24import: %d rows not imported; the first %d (-report FILE lists all):\n", n, len(imp.problems))
	default:
		fmt.Fprintf(imp.stderr, "b24import: %d rows not imported:\n", n)
	}
	// Rows that failed alike in a run of lines are said once.
	for i := 0; i < len(imp.problems); {
		p := imp.problems[i]
		j := i + 1
		for j < len(imp.problems) && imp.problems[j].o.status == p.o.status && imp.problems[j].o.code == p.o.code && imp.problems[j].o.desc == p.o.desc {
			j++
		}
		msg := p.o.status
		if p.o.code != "" {
			msg += " " + p.o.code
		}
		if p.o.desc != "" {
			msg += ": " + p.o.desc
		}
		if j-i < 3 {
			j = i + 1
		}
		if j-i > 1 {
			fmt.Fprintf(imp.stderr, "  %s:%d-%d (%d rows): %s\n", displayName(imp.cfg.file), p.line, imp.problems[j-1].line, j-i, msg)
		} else {
			fmt.Fprintf(imp.stderr, "  %s:%d: %s\n", displayName(imp.cfg.file), p.line, msg)
		}
		i = j
	}
}

// resumeHint prints the command that resumes the import.
func (imp *importer) resumeHint() {
	if imp.cfg.journalPath == "" {
		if imp.tally.imported > 0 {
			fmt.Fprintln(imp.stderr, "b24import: no -journal was given, so this run cannot be resumed: running it again would import the imported rows twice")
		}
		return
	}
	fmt.Fprintf(imp.stderr, "b24import: to resume, run the same command again:\n  %s\n", commandLine(imp.cfg.args))
}

// commandLine quotes args for a POSIX shell, hiding secret flag values.
func commandLine(args []string) string {
	out := make([]string, 0, len(args))
	hide := false
	for i, a := range args {
		switch {
		case i == 0 && strings.Contains(a, "go-build"):
			a = "go run ./cmd/b24import"
			out = append(out, a)
			continue
		case hide:
			a, hide = "'<hidden>'", false
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "webhook" || name == "client-secret") {
			if hasValue {
				out = append(out, "-"+name+"='<hidden>'")
			} else {
				out = append(out, a)
				hide = true
			}
			continue
		}
		out = append(out, shellQuote(a))
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
