package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake/query"
	"github.com/stocklake/stocklake/sqltext"
)

func sqlCommand() *ffcli.Command {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	var qf queryFlags
	qf.register(fs)
	home, _ := os.UserHomeDir()
	historyFile := fs.String("history-file", filepath.Join(home, ".stocklake_history"), `file keeping the shell's input history ("" keeps none)`)
	var lf logFlags
	lf.register(fs)
	return newCommand("sql", "stocklake sql [--catalog URL] [--engine URL] [--format table|csv|json]",
		"an interactive SQL shell over catalog tables",
		`Reads SQL statements ending in ';' (they may span lines) and runs each like
'stocklake query': every statement gets an ID, a state and a result kept in
the lake. Arrow keys recall earlier input, kept in --history-file. Ctrl-C
cancels a running statement; Ctrl-D or \q leaves. Shell commands:
  \d             list the tables of --database
  \d TABLE       a table's columns and partition keys
  \format NAME   switch the output format (table, csv, json)
  \history       recent queries with their states
  \q             quit
Input that is not a terminal is read line by line without prompts.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("sql", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			s, err := qf.open(ctx, log, true)
			if err != nil {
				return err
			}
			defer s.Close()
			// The shell outlives Ctrl-C: an interrupt cancels the running
			// statement only.
			ctx = context.WithoutCancel(ctx)
			in, closeIn, err := shellInput(*historyFile)
			if err != nil {
				return err
			}
			defer closeIn()
			sh := &shell{session: s, out: os.Stdout, format: s.format}
			return sh.loop(ctx, in)
		})
}

// lineReader returns the next line with the given prompt, io.EOF at the end
// and errInterrupted when the user pressed Ctrl-C at the prompt.
type lineReader func(prompt string) (string, error)

var errInterrupted = errors.New("interrupted")

// shellInput reads from a terminal with line editing and history, or
// plainly from a pipe.
func shellInput(historyFile string) (lineReader, func(), error) {
	if fi, err := os.Stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		return func(string) (string, error) {
			if sc.Scan() {
				return sc.Text(), nil
			}
			if err := sc.Err(); err != nil {
				return "", err
			}
			return "", io.EOF
		}, func() {}, nil
	}
	rl, err := readline.NewEx(&readline.Config{Prompt: "stocklake> ", HistoryFile: historyFile, DisableAutoSaveHistory: false})
	if err != nil {
		return nil, nil, fmt.Errorf("sql shell: %w", err)
	}
	return func(prompt string) (string, error) {
		rl.SetPrompt(prompt)
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			return "", errInterrupted
		}
		return line, err
	}, func() { rl.Close() }, nil
}

// shell runs statements read from a lineReader.
type shell struct {
	session *querySession
	out     io.Writer
	format  query.Format
}

func (sh *shell) loop(ctx context.Context, next lineReader) error {
	var buf strings.Builder
	for {
		prompt := "stocklake> "
		if buf.Len() > 0 {
			prompt = "        -> "
		}
		line, err := next(prompt)
		if errors.Is(err, errInterrupted) {
			buf.Reset()
			continue
		}
		if errors.Is(err, io.EOF) {
			if rest := strings.TrimSpace(buf.String()); rest != "" {
				sh.run(ctx, rest)
			}
			return nil
		}
		if err != nil {
			return err
		}
		trimmed := strings.TrimSpace(line)
		if buf.Len() == 0 && strings.HasPrefix(trimmed, `\`) {
			if quit := sh.command(ctx, trimmed); quit {
				return nil
			}
			continue
		}
		if buf.Len() == 0 && (trimmed == "quit" || trimmed == "exit") {
			return nil
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		for {
			// DuckDB's reading, the widest: it waits for the end of
			// nested comments and $$ strings too.
			stmt, rest, ok := sqltext.CutStatement(buf.String(), sqltext.DuckDB)
			if !ok {
				break
			}
			buf.Reset()
			buf.WriteString(strings.TrimLeft(rest, " \t\r\n"))
			if strings.TrimSpace(stmt) != "" {
				sh.run(ctx, stmt)
			}
		}
	}
}

// run executes one statement, cancelling it on Ctrl-C.
func (sh *shell) run(ctx context.Context, stmt string) {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-qctx.Done():
		}
	}()
	if err := sh.session.runAndPrint(qctx, sh.out, stmt, sh.format); err != nil {
		fmt.Fprintf(sh.out, "error: %v\n", err)
	}
}

// command runs a backslash command; it returns true to quit.
func (sh *shell) command(ctx context.Context, cmd string) bool {
	fields := strings.Fields(cmd)
	switch fields[0] {
	case `\q`, `\quit`:
		return true
	case `\d`:
		stmt := "SHOW TABLES"
		if len(fields) > 1 {
			stmt = "DESCRIBE " + fields[1]
		}
		sh.run(ctx, stmt)
	case `\format`:
		if len(fields) != 2 {
			fmt.Fprintf(sh.out, "format is %s; \\format table|csv|json\n", sh.format)
			return false
		}
		f, err := query.ParseFormat(fields[1])
		if err != nil || f == query.FormatParquet {
			fmt.Fprintf(sh.out, "error: %q: want table, csv or json\n", fields[1])
			return false
		}
		sh.format = f
	case `\history`:
		exs, err := sh.session.runner.List(ctx, 20)
		if err != nil {
			fmt.Fprintf(sh.out, "error: %v\n", err)
		}
		for _, ex := range exs {
			fmt.Fprintln(sh.out, ex.Summary())
		}
	default:
		fmt.Fprintf(sh.out, "unknown command %s; try \\d, \\d TABLE, \\format, \\history or \\q\n", fields[0])
	}
	return false
}
