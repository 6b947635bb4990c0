package dashboard_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/orcahq/orca/internal/auth"
)

// These tests drive the page in a real headless Chromium against a real node running a real
// ComputeOrchestrator run on slowed-down workers sized by a real scaler. Screenshots go to
// artifactsDir (artifacts/dashboard, or $ORCA_TEST_ARTIFACTS/dashboard).

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// chartState is what a chart exposes of its data (data-points, data-markers, data-last).
type chartState struct {
	Points  int                 `json:"points"`
	Markers int                 `json:"markers"`
	Last    map[string]*float64 `json:"last"`
}

const readCharts = `(() => {
  const out = {};
  for (const c of document.querySelectorAll('[data-chart]')) {
    out[c.dataset.chart] = {points: +(c.dataset.points || 0), markers: +(c.dataset.markers || 0),
      last: JSON.parse(c.dataset.last || '{}')};
  }
  return out;
})()`

func value(st map[string]chartState, chart, key string) float64 {
	if v := st[chart].Last[key]; v != nil {
		return *v
	}
	return -1
}

// show opens a view of the page (a same-document navigation: the polling goes on).
func (b *browser) show(t *testing.T, hash string) {
	t.Helper()
	eval[chromedp.Void](t, b, "location.hash = "+js(hash))
}

func instanceHash(id string) string { return "#/instance/" + url.PathEscape(id) }

// noOverflow fails the test if the page is wider than the viewport.
func noOverflow(t *testing.T, b *browser, what string) {
	t.Helper()
	widths := eval[[]int](t, b, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`)
	if widths[0] > widths[2] || widths[1] > widths[2] {
		t.Errorf("%s overflows horizontally: scrollWidth %d (body %d) > viewport %d", what, widths[0], widths[1], widths[2])
	}
}

// act clicks an action of the instance page, fills its dialog and confirms.
func (b *browser) act(t *testing.T, action string, fields map[string]string) {
	t.Helper()
	b.do(t, "click "+action, chromedp.Click(chromedp.CSS(`[data-action="`+action+`"]`)))
	b.waitJS(t, "the dialog", `document.querySelector('dialog[open] [data-action=confirm]') !== null`)
	for id, v := range fields {
		b.do(t, "fill "+id, chromedp.SetValue(chromedp.CSS("#"+id), v))
	}
	b.do(t, "confirm "+action, chromedp.Click(chromedp.CSS(`dialog[open] [data-action=confirm]`)))
}

func (b *browser) waitBadge(t *testing.T, status string) {
	t.Helper()
	b.waitJS(t, "status "+status, `document.querySelector('.title-row .badge')?.textContent === `+js(status))
}

func TestDashboard(t *testing.T) {
	path := chromium(t)
	dir := artifactsDir(t)
	n := startNode(t, nil)
	b := newBrowser(t, path)

	// Ids, event names and payloads are user input: this one would run script if the page
	// parsed it as HTML.
	xssID := `xss-<script>window.__xss=1<script>"'<img src=x onerror=window.__xss=2>`
	n.start(t, "WaitEvent", xssID, `{"who":"<b>bold</b>"}`, "")
	n.start(t, "WaitEvent", "wait-raise", "", "")
	n.start(t, "WaitEvent", "wait-terminate", "", "")
	n.start(t, "Fail", "failing-run", `"bad input"`, "")

	b.do(t, "open the page", chromedp.Navigate(n.base+"/"))
	b.waitJS(t, "the first samples", `+document.querySelector('[data-chart=queue]').dataset.points > 0`)

	// A run of 200 items, 3 of which fail (they go to the poison queue).
	items := make([]string, 200)
	for i := range items {
		items[i] = "[1,2]"
	}
	items[10], items[70], items[130] = `"bad"`, `"bad"`, `"bad"`
	runID := n.start(t, "ComputeOrchestrator", "", `{"items":[`+strings.Join(items, ",")+`]}`, "")

	t.Run("charts move while the run goes", func(t *testing.T) {
		queueValues := map[float64]bool{}
		var rate, ready, markers float64
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := eval[map[string]chartState](t, b, readCharts)
			queueValues[value(st, "queue", "visible")] = true
			rate = max(rate, value(st, "throughput", "completed"))
			ready = max(ready, value(st, "workers", "ready"))
			markers = max(markers, float64(st["workers"].Markers))
			// The page refreshes every 2s: the queue seen non-empty at two different lengths
			// means the chart followed the run.
			nonEmpty := 0
			for v := range queueValues {
				if v > 0 {
					nonEmpty++
				}
			}
			if nonEmpty >= 2 && rate > 0 && ready >= 2 && markers >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the charts did not move: queue values %v, items/s %v, ready %v, markers %v", queueValues, rate, ready, markers)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b.waitJS(t, "the run's progress bar", `document.querySelector('tr[data-id=`+js(runID)+`] .progress') !== null`)
		b.screenshot(t, dir, "overview-1280", false)
		b.screenshot(t, dir, "overview-1280-full", true)
	})

	deadline := time.Now().Add(60 * time.Second)
	for n.runtimeStatus(t, runID, "") != "Failed" {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end as Failed (3 items fail): %s", n.runtimeStatus(t, runID, ""))
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Run("instance page shows the history", func(t *testing.T) {
		b.show(t, instanceHash(runID))
		b.waitJS(t, "the first history page", `document.querySelectorAll('.timeline li.ev').length === 50`)
		types := eval[[]string](t, b, `[...document.querySelectorAll('.timeline li.ev .type')].map(e => e.textContent)`)
		if !slices.Contains(types[:3], "ExecutionStarted") {
			t.Errorf("the history starts with %q, not with the execution's start", types[:3])
		}
		b.waitJS(t, "the failures", `document.querySelectorAll('.card:not([hidden]) td.reason').length === 3`)
		b.waitJS(t, "the progress bar", `document.querySelector('.progress-big .progress') !== null`)
		b.screenshot(t, dir, "instance-1280", false)
		b.do(t, "load more history", chromedp.Click(chromedp.CSS(".history > button")))
		b.waitJS(t, "the second history page", `document.querySelectorAll('.timeline li.ev').length === 100`)
	})

	t.Run("raise an event", func(t *testing.T) {
		b.show(t, instanceHash("wait-raise"))
		b.waitBadge(t, "Running")
		payload := `{"note":"<img src=x onerror=window.__xss=3>"}`
		b.act(t, "raise", map[string]string{"f-event": "go", "f-data": payload})
		b.waitBadge(t, "Completed")
		if st := n.runtimeStatus(t, "wait-raise", ""); st != "Completed" {
			t.Fatalf("wait-raise is %s after the event", st)
		}
		b.waitJS(t, "the output as text", `[...document.querySelectorAll('pre.json')].some(p => p.textContent.includes('<img src=x onerror=window.__xss=3>'))`)
		b.screenshot(t, dir, "instance-raised-1280", false)
	})

	t.Run("terminate", func(t *testing.T) {
		b.show(t, instanceHash("wait-terminate"))
		b.waitBadge(t, "Running")
		b.do(t, "click terminate", chromedp.Click(chromedp.CSS(`[data-action="terminate"]`)))
		b.waitJS(t, "the dialog", `document.querySelector('dialog[open] [data-action=confirm]') !== null`)
		b.do(t, "fill the reason", chromedp.SetValue(chromedp.CSS("#f-reason"), "stopped by the browser test"))
		b.screenshot(t, dir, "terminate-dialog-1280", false)
		b.do(t, "confirm", chromedp.Click(chromedp.CSS(`dialog[open] [data-action=confirm]`)))
		b.waitBadge(t, "Terminated")
		if st := n.runtimeStatus(t, "wait-terminate", ""); st != "Terminated" {
			t.Fatalf("wait-terminate is %s", st)
		}
	})

	t.Run("user input is shown as text", func(t *testing.T) {
		b.show(t, "#/")
		b.waitJS(t, "the poisoned items", `JSON.parse(document.querySelector('[data-chart=poison]').dataset.last || '{}').poison === 3`)
		b.waitJS(t, "the row of the id", `[...document.querySelectorAll('tr[data-id]')].some(r => r.dataset.id === `+js(xssID)+`)`)
		link := eval[string](t, b, `[...document.querySelectorAll('tr[data-id]')].find(r => r.dataset.id === `+js(xssID)+`).querySelector('a').textContent`)
		if link != xssID {
			t.Errorf("the id shows as %q, want %q", link, xssID)
		}
		b.show(t, instanceHash(xssID))
		b.waitJS(t, "the instance page", `document.querySelector('h1.instance-id')?.textContent === `+js(xssID))
		b.waitJS(t, "the input as text", `[...document.querySelectorAll('pre.json')].some(p => p.textContent.includes('<b>bold</b>'))`)
		if n := eval[int](t, b, `document.querySelectorAll('main img, main script, main b:not(.legend b)').length`); n != 0 {
			t.Errorf("%d elements were made from user input", n)
		}
		if ran := eval[bool](t, b, `window.__xss !== undefined`); ran {
			t.Error("script from user input ran")
		}
	})

	t.Run("phone width", func(t *testing.T) {
		b.do(t, "a phone's viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
		b.show(t, "#/")
		b.waitJS(t, "the charts at the new width", `document.querySelector('[data-chart=queue] svg')?.getAttribute('width') < 390`)
		b.waitJS(t, "the table", `document.querySelectorAll('tr[data-id]').length > 0`)
		noOverflow(t, b, "the overview")
		b.screenshot(t, dir, "overview-390-full", true)
		b.show(t, instanceHash(runID))
		b.waitJS(t, "the history", `document.querySelectorAll('.timeline li.ev').length > 0`)
		noOverflow(t, b, "the instance page")
		b.screenshot(t, dir, "instance-390", false)
	})

	t.Run("dark mode", func(t *testing.T) {
		b.do(t, "a dark desktop", chromedp.EmulateViewport(1280, 800), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}))
		b.show(t, "#/")
		b.waitJS(t, "the dark theme", `getComputedStyle(document.body).backgroundColor === 'rgb(11, 17, 32)'`)
		b.waitJS(t, "the charts", `document.querySelector('[data-chart=queue] svg')?.getAttribute('width') > 400`)
		b.screenshot(t, dir, "overview-1280-dark", false)
	})

	if errs := b.errors(nil); len(errs) > 0 {
		t.Errorf("the console has errors:\n%s", strings.Join(errs, "\n"))
	}
}

func TestDashboardKeys(t *testing.T) {
	path := chromium(t)
	dir := artifactsDir(t)
	const adminKey, readerKey = "admin-key-0123456789", "reader-key-0123456789"
	keys, err := auth.NewKeys([]auth.KeySpec{{Name: "admin", Scope: auth.ScopeAdmin, Key: adminKey},
		{Name: "reader", Scope: auth.ScopeReader, Key: readerKey}})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, keys)
	b := newBrowser(t, path)
	n.start(t, "WaitEvent", "keyed-wait", "", adminKey)

	b.do(t, "open the page", chromedp.Navigate(n.base+"/"))
	b.waitJS(t, "the key dialog", `document.querySelector('dialog[open] #f-key') !== null`)
	b.screenshot(t, dir, "key-dialog-1280", false)
	b.do(t, "give the reader key", chromedp.SetValue(chromedp.CSS("#f-key"), readerKey),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-action=confirm]`)))
	b.waitJS(t, "the samples", `+document.querySelector('[data-chart=queue]').dataset.points > 0`)
	b.waitJS(t, "the instances", `document.querySelector('tr[data-id="keyed-wait"]') !== null`)

	// A reader key sees everything and changes nothing.
	b.show(t, instanceHash("keyed-wait"))
	b.waitBadge(t, "Running")
	b.act(t, "terminate", nil)
	b.waitJS(t, "the refusal", `[...document.querySelectorAll('#toasts .toast.error')].some(e => e.textContent.includes('admin key'))`)
	if st := n.runtimeStatus(t, "keyed-wait", adminKey); st != "Running" {
		t.Fatalf("a reader key terminated the instance: %s", st)
	}

	// An admin key does.
	b.do(t, "open the key dialog", chromedp.Click(chromedp.CSS("#key-button")))
	b.waitJS(t, "the key dialog", `document.querySelector('dialog[open] #f-key') !== null`)
	b.do(t, "give the admin key", chromedp.SetValue(chromedp.CSS("#f-key"), adminKey),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-action=confirm]`)))
	b.waitBadge(t, "Running")
	b.act(t, "terminate", nil)
	b.waitBadge(t, "Terminated")

	// The key went in a header, never in a URL.
	urls := eval[[]string](t, b, `performance.getEntriesByType('resource').map(e => e.name).concat([location.href])`)
	for _, u := range urls {
		if strings.Contains(u, adminKey) || strings.Contains(u, readerKey) {
			t.Errorf("a URL holds the key: %s", u)
		}
	}
	if len(urls) < 3 {
		t.Errorf("too few requests recorded to prove anything: %v", urls)
	}
	// The only errors are the refusals the test asked for.
	refusal := func(m chromedp.ConsoleMessage) bool {
		return m.Source == "network" && (strings.Contains(m.Text, "401") || strings.Contains(m.Text, "403"))
	}
	if errs := b.errors(refusal); len(errs) > 0 {
		t.Errorf("the console has errors:\n%s", strings.Join(errs, "\n"))
	}
}
