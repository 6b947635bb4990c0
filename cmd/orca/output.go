package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0) }

// compactJSON renders a JSON value on one line, at most limit runes ("-" for none or null).
func compactJSON(raw json.RawMessage, limit int) string {
	var b bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 || json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(bytes.TrimSpace(raw))
	}
	s := b.String()
	if s == "" || s == "null" {
		return "-"
	}
	return trimRunes(s, limit)
}

// trimRunes cuts s to limit runes, ending it with "…" when cut.
func trimRunes(s string, limit int) string {
	r := []rune(s)
	if limit <= 0 || len(r) <= limit {
		return s
	}
	return string(r[:limit-1]) + "…"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printStatus writes an instance's status as a two-column table.
func printStatus(w io.Writer, st *client.Status) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Instance:\t%s\n", st.InstanceID)
	fmt.Fprintf(tw, "Name:\t%s\n", st.Name)
	fmt.Fprintf(tw, "Status:\t%s\n", st.RuntimeStatus)
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(st.CreatedTime))
	fmt.Fprintf(tw, "Updated:\t%s\n", formatTime(st.LastUpdatedTime))
	fmt.Fprintf(tw, "Custom status:\t%s\n", compactJSON(st.CustomStatus, 120))
	fmt.Fprintf(tw, "Output:\t%s\n", compactJSON(st.Output, 120))
	return tw.Flush()
}

// printHistory writes history events as a table: id, time, type, name and the other fields.
func printHistory(w io.Writer, events []*client.HistoryEvent) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tTIMESTAMP\tTYPE\tNAME\tDETAILS")
	for _, e := range events {
		id := "-"
		if e.EventID >= 0 {
			id = itoa(e.EventID)
		}
		ts := "-"
		if !e.Timestamp.IsZero() {
			ts = e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
		name := e.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, ts, e.EventType, name, eventDetails(e.Raw))
	}
	return tw.Flush()
}

// eventDetails is an event's fields other than those in their own columns, as compact JSON.
func eventDetails(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return compactJSON(raw, 100)
	}
	for _, k := range []string{"EventId", "EventType", "Timestamp", "Name", "FunctionName", "IsPlayed", "Sequence"} {
		delete(m, k)
	}
	if len(m) == 0 {
		return "-"
	}
	b, _ := json.Marshal(m)
	return compactJSON(b, 100)
}

// printInstances writes statuses as a table, one line each.
func printInstances(w io.Writer, list []*client.Status) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "INSTANCE\tNAME\tSTATUS\tCREATED\tUPDATED")
	for _, st := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.InstanceID, st.Name, st.RuntimeStatus,
			formatTime(st.CreatedTime), formatTime(st.LastUpdatedTime))
	}
	return tw.Flush()
}

// bar renders done of total as a bar of width cells.
func bar(done, total, width int) string {
	filled := width
	if total > 0 {
		filled = min(width, max(0, done*width/total))
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

// progressLine describes a running instance in one line: a bar when its customStatus reports
// progress (compute.Progress), else the status after a spinner frame.
func progressLine(status string, customStatus json.RawMessage, spin string) string {
	return fitProgressLine(status, customStatus, spin, "", 0)
}

// fitProgressLine is progressLine with an elapsed time, fitted to width runes (0: any width).
// What matters least goes first when the line is too long — the status word (a bar is shown
// only while the run is running), then the stage, the elapsed time, the in-flight count — then
// the bar narrows; the counts and the failures stay.
func fitProgressLine(status string, customStatus json.RawMessage, spin, elapsed string, width int) string {
	p, ok := compute.ParseProgress(customStatus)
	if !ok {
		return trimRunes(strings.TrimSpace(spin+" "+status+"  "+elapsed), width)
	}
	total, done := p.Total, p.Completed+p.Failed
	pct := 100
	if total > 0 {
		pct = done * 100 / total
	}
	counts := fmt.Sprintf("%d/%d %3d%%", p.Completed, total, pct)
	if p.Failed > 0 {
		counts += fmt.Sprintf("  failed %d", p.Failed)
	}
	// The optional parts, most important first.
	var extras []string
	if p.InFlight > 0 {
		extras = append(extras, fmt.Sprintf("in flight %d", p.InFlight))
	}
	if elapsed != "" {
		extras = append(extras, elapsed)
	}
	if p.Stage != "" {
		extras = append(extras, p.Stage)
	}
	extras = append(extras, status)
	line := func(barWidth, keep int) string {
		var b strings.Builder
		if barWidth > 0 {
			b.WriteString(bar(done, total, barWidth) + " ")
		}
		b.WriteString(counts)
		for _, e := range extras[:keep] {
			b.WriteString("  " + e)
		}
		return b.String()
	}
	const fullBar, narrowestBar = 30, 10
	if width <= 0 {
		return line(fullBar, len(extras))
	}
	for keep := len(extras); keep >= 0; keep-- {
		if l := line(fullBar, keep); utf8.RuneCountInString(l) <= width {
			return l
		}
	}
	barWidth := width - utf8.RuneCountInString(counts) - 3 // "[" "]" " "
	if barWidth < narrowestBar {
		barWidth = 0
	}
	return trimRunes(line(barWidth, 0), width)
}

var spinner = []string{"|", "/", "-", `\`}

// progressView shows a waited-for instance's progress. On a terminal it redraws one line in
// place; otherwise it writes a line each time what it shows changes.
type progressView struct {
	w     io.Writer
	tty   bool
	start time.Time
	frame int
	last  string
	drawn bool
}

func newProgressView(w io.Writer) *progressView {
	return &progressView{w: w, tty: isTerminal(w), start: time.Now()}
}

// update shows st, unless it has finished (the final status is printed by the caller).
func (v *progressView) update(st *client.Status) {
	if !st.RuntimeStatus.Finished() {
		v.show(st.InstanceID, string(st.RuntimeStatus), st.CustomStatus)
	}
}

// show draws an instance's status and customStatus.
func (v *progressView) show(id, status string, customStatus json.RawMessage) {
	if !v.tty {
		line := progressLine(status, customStatus, "-")
		if line != v.last {
			fmt.Fprintf(v.w, "%s %s\n", id, line)
			v.last = line
		}
		return
	}
	// A line longer than the terminal would wrap, and only its last row would be redrawn.
	line := fitProgressLine(status, customStatus, spinner[v.frame%len(spinner)], time.Since(v.start).Round(time.Second).String(),
		terminalWidth(v.w)-1)
	v.frame++
	fmt.Fprintf(v.w, "\r\x1b[K%s", line)
	v.drawn = true
}

// done ends the redrawn line.
func (v *progressView) done() {
	if v.drawn {
		fmt.Fprint(v.w, "\r\x1b[K")
		v.drawn = false
	}
}

// terminalWidth is the width of the terminal w writes to, else $COLUMNS when the shell exports
// it, else 80.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 10 {
			return cols
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 10 {
		return n
	}
	return 80
}

// isTerminal reports whether w is a terminal that can redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
