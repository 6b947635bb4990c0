// Package sqlcommon holds what the SQL store backends (sqlite, postgres) share and what does not
// depend on the SQL dialect: how times, payloads and continuation tokens are stored, how inputs
// are validated, how events are encoded before a write and how result rows are read back
// (scanners and Collectors, for the rows of either driver).
package sqlcommon

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// Unix nanoseconds cover 1678 to 2262; times beyond are clamped to the ends, so that a filter
// like "created after 2999" stays after everything instead of wrapping around.
var (
	minNanos = time.Unix(0, math.MinInt64+1)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// Nanos is how the backends store a time: Unix nanoseconds in a 64-bit integer, exact to the
// nanosecond (the store's callers compare times exactly); the zero time is 0.
func Nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minNanos):
		return math.MinInt64 + 1
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// FromNanos is the inverse of Nanos, in UTC.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// RawOrNil returns a stored JSON payload, nil when empty.
func RawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// JSONOrNil encodes v, or returns nil for a nil pointer so the column stays NULL.
func JSONOrNil[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// Payload returns the stored form of a JSON payload: nil (NULL) when empty.
func Payload(b json.RawMessage) []byte {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// ListToken is the position after the last instance of a page of InstanceList.
type ListToken struct {
	Created int64  `json:"c"`
	ID      string `json:"i"`
	// Desc marks a token of a newest-first listing.
	Desc bool `json:"d,omitempty"`
}

// EncodeToken returns the continuation token of t.
func EncodeToken(t ListToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken parses a continuation token; ErrInvalid when it was not issued by EncodeToken.
func DecodeToken(s string) (ListToken, error) {
	var t ListToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.ID == "" {
		return t, fmt.Errorf("list instances: malformed continuation token: %w", store.ErrInvalid)
	}
	return t, nil
}

// PrefixEnd returns the smallest string greater than every string that starts with prefix, in
// byte order; false when there is none (an empty prefix, or one of only 0xFF bytes).
func PrefixEnd(prefix string) (string, bool) {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return string(end[:i+1]), true
		}
	}
	return "", false
}

// HasStatus reports whether s is in set.
func HasStatus(set []store.Status, s store.Status) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

// PurgeStatuses returns the statuses InstancePurgeBatch deletes (all finished ones when p names
// none) and checks p.
func PurgeStatuses(p *store.InstancePurgeParams) ([]store.Status, error) {
	statuses := p.Statuses
	if len(statuses) == 0 {
		statuses = []store.Status{store.StatusCompleted, store.StatusFailed, store.StatusTerminated}
	}
	for _, s := range statuses {
		if !s.Finished() {
			return nil, fmt.Errorf("purge instances: status %s is not a finished status: %w", s, store.ErrInvalid)
		}
	}
	if p.Limit <= 0 {
		return nil, fmt.Errorf("purge instances: limit must be positive: %w", store.ErrInvalid)
	}
	return statuses, nil
}

// CheckBlobPut validates the arguments of BlobPut.
func CheckBlobPut(p *store.BlobPutParams) error {
	in := &p.Info
	switch {
	case in.Container == "" || in.Name == "":
		return fmt.Errorf("put blob %q/%q: container and name are required: %w", in.Container, in.Name, store.ErrInvalid)
	case in.FilePath != "" && p.Data != nil:
		return fmt.Errorf("put blob %s/%s: content given both inline and in file %s: %w", in.Container, in.Name, in.FilePath, store.ErrInvalid)
	case in.FilePath == "" && int64(len(p.Data)) != in.Size:
		return fmt.Errorf("put blob %s/%s: size %d but %d bytes of inline content: %w", in.Container, in.Name, in.Size, len(p.Data), store.ErrInvalid)
	case in.Size < 0:
		return fmt.Errorf("put blob %s/%s: negative size %d: %w", in.Container, in.Name, in.Size, store.ErrInvalid)
	}
	return nil
}

// CheckDequeue validates the arguments of QueueDequeue.
func CheckDequeue(p *store.QueueDequeueParams) error {
	if p.Limit <= 0 {
		return fmt.Errorf("dequeue from %s: limit must be positive: %w", p.Queue, store.ErrInvalid)
	}
	if p.MaxDequeueCount > 0 && (p.PoisonQueue == "" || p.PoisonQueue == p.Queue) {
		return fmt.Errorf("dequeue from %s: poison queue %q: %w", p.Queue, p.PoisonQueue, store.ErrInvalid)
	}
	return nil
}

// EncodedMessage is an inbox message with its event encoded before the write.
type EncodedMessage struct {
	M    *store.Message
	Data []byte
}

// VisibleAt is when the message becomes visible: its own time, or now when it has none.
func (m EncodedMessage) VisibleAt(now time.Time) int64 {
	if m.M.VisibleAt.IsZero() {
		return Nanos(now)
	}
	return Nanos(m.M.VisibleAt)
}

// EncodeMessages encodes the events of ms.
func EncodeMessages(ms []*store.Message) ([]EncodedMessage, error) {
	out := make([]EncodedMessage, len(ms))
	for i, m := range ms {
		data, err := history.Marshal(m.Event)
		if err != nil {
			return nil, fmt.Errorf("encode message to %s: %w", m.InstanceID, err)
		}
		out[i] = EncodedMessage{M: m, Data: data}
	}
	return out, nil
}

// EncodedEffects are store.Effects with their events encoded before the write.
type EncodedEffects struct {
	Messages   []EncodedMessage
	Deliveries []*store.DeliveryCreate
}

// EncodeEffects encodes the events of e.
func EncodeEffects(e *store.Effects) (*EncodedEffects, error) {
	msgs, err := EncodeMessages(e.Messages)
	if err != nil {
		return nil, err
	}
	return &EncodedEffects{Messages: msgs, Deliveries: e.Deliveries}, nil
}

// FirstAttempt is when a new delivery is first due: its NotBefore, or now (created) when it has
// none.
func FirstAttempt(d *store.DeliveryCreate, created int64) int64 {
	if next := Nanos(d.NotBefore); next != 0 {
		return next
	}
	return created
}

// EncodedInstance is an InstanceCreateParams with its JSON encoded before the write.
type EncodedInstance struct {
	P       *store.InstanceCreateParams
	Started []byte
	Parent  []byte
}

// EncodeInstance checks and encodes p.
func EncodeInstance(p *store.InstanceCreateParams) (*EncodedInstance, error) {
	if p.Started == nil || p.Started.ExecutionStarted == nil {
		return nil, errors.New("create instance: Started must be an ExecutionStarted event")
	}
	started, err := history.Marshal(p.Started)
	if err != nil {
		return nil, fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	parent, err := JSONOrNil(p.Started.ExecutionStarted.Parent)
	if err != nil {
		return nil, fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	return &EncodedInstance{P: p, Started: started, Parent: parent}, nil
}

// SubOrchestrationRefused is the message a parent receives instead of a sub-orchestration whose
// id is taken by an unfinished instance (err says which).
func SubOrchestrationRefused(s *EncodedInstance, err error) (EncodedMessage, error) {
	parent := s.P.Started.ExecutionStarted.Parent
	ev := history.NewSubOrchestrationFailed(s.P.CreatedAt, parent.TaskScheduledID, &history.FailureDetails{
		ErrorType: "InstanceExists", ErrorMessage: err.Error()})
	data, err := history.Marshal(ev)
	if err != nil {
		return EncodedMessage{}, err
	}
	return EncodedMessage{M: &store.Message{InstanceID: parent.InstanceID, ExecutionID: parent.ExecutionID, Event: ev}, Data: data}, nil
}

// Scan is the Scan method of a row of either driver (database/sql, pgx).
type Scan = func(dest ...any) error

// Rows is a result set of either driver (*sql.Rows, pgx.Rows) as the collectors read it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// A Collector reads a whole result set into a T; the caller closes the rows. The backends'
// query helpers take one.
type Collector[T any] func(Rows) (T, error)

// Collect reads rows with collect and checks rows.Err, whether or not collect did: a read that
// ended early is an error. The caller closes rows.
func Collect[T any](rows Rows, collect Collector[T]) (T, error) {
	out, err := collect(rows)
	if err == nil {
		err = rows.Err()
	}
	return out, err
}

// All is the Collector that reads every row with scan, in order.
func All[T any](scan func(Scan) (T, error)) Collector[[]T] {
	return func(rows Rows) ([]T, error) {
		var out []T
		for rows.Next() {
			v, err := scan(rows.Scan)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// CountBy is the Collector of rows of (key, count), as a GROUP BY with COUNT(*) yields them.
func CountBy[K ~string](rows Rows) (map[K]int, error) {
	out := map[K]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[K(k)] = n
	}
	return out, rows.Err()
}

// InstanceColumns are the columns ScanInstance reads, in its order; InstancePayloadColumns
// follow them when payloads are read.
const (
	InstanceColumns = `instance_id, name, execution_id, status, custom_status, failure, parent,
	created_at, updated_at, history_len, COALESCE(lock_owner, ''), lock_expiry`
	InstancePayloadColumns = `, input, output`
)

// ScanInstance reads an instance row: extra columns first, then InstanceColumns (and the
// payload columns).
func ScanInstance(scan Scan, withPayloads bool, extra ...any) (*store.Instance, error) {
	var (
		in                       store.Instance
		status                   string
		custom, failure, parent  []byte
		created, updated, expiry int64
		input, output            []byte
	)
	dest := append(slices.Clip(extra), &in.ID, &in.Name, &in.ExecutionID, &status, &custom, &failure, &parent,
		&created, &updated, &in.HistoryLen, &in.LockOwner, &expiry)
	if withPayloads {
		dest = append(dest, &input, &output)
	}
	if err := scan(dest...); err != nil {
		return nil, err
	}
	in.Status = store.Status(status)
	in.CustomStatus = RawOrNil(custom)
	in.Input = RawOrNil(input)
	in.Output = RawOrNil(output)
	in.CreatedAt = FromNanos(created)
	in.UpdatedAt = FromNanos(updated)
	in.LockExpiry = FromNanos(expiry)
	if len(failure) > 0 {
		in.Failure = &history.FailureDetails{}
		if err := json.Unmarshal(failure, in.Failure); err != nil {
			return nil, fmt.Errorf("decode failure of %s: %w", in.ID, err)
		}
	}
	if len(parent) > 0 {
		in.Parent = &history.ParentInstance{}
		if err := json.Unmarshal(parent, in.Parent); err != nil {
			return nil, fmt.Errorf("decode parent of %s: %w", in.ID, err)
		}
	}
	return &in, nil
}

// Instances is the Collector of rows of InstanceColumns (and InstancePayloadColumns when
// withPayloads).
func Instances(withPayloads bool) Collector[[]*store.Instance] {
	return All(func(scan Scan) (*store.Instance, error) { return ScanInstance(scan, withPayloads) })
}

// LeasedInstances is the Collector of the rows an orchestration lease returns (ready_at, then
// InstanceColumns); it sorts them with SortByReady.
func LeasedInstances(rows Rows) ([]*store.Instance, error) {
	var ready []int64
	ins, err := All(func(scan Scan) (*store.Instance, error) {
		var r int64
		in, err := ScanInstance(scan, false, &r)
		if err != nil {
			return nil, err
		}
		ready = append(ready, r)
		return in, nil
	})(rows)
	if err != nil {
		return nil, err
	}
	return SortByReady(ins, ready), nil
}

// InboxColumns are the columns ScanInboxMessage reads, in its order.
const InboxColumns = `instance_id, id, execution_id, visible_at, data`

// ScanInboxMessage reads InboxColumns.
func ScanInboxMessage(scan Scan) (*store.Message, error) {
	m := &store.Message{}
	var visible int64
	var data []byte
	if err := scan(&m.InstanceID, &m.ID, &m.ExecutionID, &visible, &data); err != nil {
		return nil, err
	}
	m.VisibleAt = FromNanos(visible)
	var err error
	if m.Event, err = history.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("message %d: %w", m.ID, err)
	}
	return m, nil
}

// HistoryColumns are the columns ScanHistoryRecord reads, in its order.
const HistoryColumns = `seq, data`

// ScanHistoryRecord reads HistoryColumns.
func ScanHistoryRecord(scan Scan) (store.HistoryRecord, error) {
	var seq int
	var data []byte
	if err := scan(&seq, &data); err != nil {
		return store.HistoryRecord{}, err
	}
	ev, err := history.Unmarshal(data)
	if err != nil {
		return store.HistoryRecord{}, fmt.Errorf("at %d: %w", seq, err)
	}
	return store.HistoryRecord{Seq: seq, Event: ev}, nil
}

// SortByReady sorts leased instances oldest first by their ready times, then id: RETURNING
// yields rows in update order, not the claim's.
func SortByReady(ins []*store.Instance, ready []int64) []*store.Instance {
	idx := order(len(ins), func(i, j int) int {
		if c := cmp.Compare(ready[i], ready[j]); c != 0 {
			return c
		}
		return strings.Compare(ins[i].ID, ins[j].ID)
	})
	return permute(ins, idx)
}

// SortBySeq sorts rows by their sequence numbers (oldest first).
func SortBySeq[T any](rows []T, seqs []int64) []T {
	return permute(rows, order(len(rows), func(i, j int) int { return cmp.Compare(seqs[i], seqs[j]) }))
}

func order(n int, less func(i, j int) int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, less)
	return idx
}

func permute[T any](rows []T, idx []int) []T {
	out := make([]T, len(rows))
	for i, j := range idx {
		out[i] = rows[j]
	}
	return out
}

// CheckWorkItems validates a WorkItemComplete: every item names its message and pop receipt,
// and every output is a valid put.
func CheckWorkItems(p *store.WorkItemCompleteParams) error {
	if p.Queue == "" {
		return fmt.Errorf("complete work items: no queue: %w", store.ErrInvalid)
	}
	for i, it := range p.Items {
		if it == nil || it.MessageID == "" || it.PopReceipt == "" {
			return fmt.Errorf("complete work items of %s: item %d has no message id or pop receipt: %w", p.Queue, i, store.ErrInvalid)
		}
		if it.Output != nil {
			if err := CheckBlobPut(it.Output); err != nil {
				return fmt.Errorf("complete work items of %s: item %d: %w", p.Queue, i, err)
			}
		}
		if d := it.DeleteInput; d != nil && (d.Container == "" || d.Name == "") {
			return fmt.Errorf("complete work items of %s: item %d: the input to delete has no container or name: %w", p.Queue, i, store.ErrInvalid)
		}
	}
	return nil
}

// BlobColumns are the columns of a blob's description (ScanBlob reads them in this order).
const BlobColumns = `container, name, size, content_type, etag, created_at, COALESCE(file_path, '')`

// ScanBlob reads BlobColumns, then extra.
func ScanBlob(scan Scan, extra ...any) (*store.BlobInfo, error) {
	var bi store.BlobInfo
	var created int64
	if err := scan(append([]any{&bi.Container, &bi.Name, &bi.Size, &bi.ContentType, &bi.ETag, &created, &bi.FilePath}, extra...)...); err != nil {
		return nil, err
	}
	bi.CreatedAt = FromNanos(created)
	return &bi, nil
}

// Blobs is the Collector of rows of BlobColumns.
func Blobs(rows Rows) ([]*store.BlobInfo, error) {
	return All(func(scan Scan) (*store.BlobInfo, error) { return ScanBlob(scan) })(rows)
}

// InlineContent is what BlobGet returns as content: nil when it lives in a file, never nil for
// inline content, also when it is empty.
func InlineContent(bi *store.BlobInfo, data []byte) []byte {
	if bi.FilePath != "" {
		return nil
	}
	if data == nil {
		return []byte{}
	}
	return data
}

// InlineData is the data column of a blob put: NULL ("in a file") for a file-backed blob, never
// NULL for inline content, also when it is empty.
func InlineData(p *store.BlobPutParams) []byte {
	if p.Info.FilePath != "" {
		return nil
	}
	if p.Data == nil {
		return []byte{}
	}
	return p.Data
}

// BlobPage cuts a listing read with limit+1 rows into a page.
func BlobPage(blobs []*store.BlobInfo, limit int) *store.BlobPage {
	page := &store.BlobPage{Blobs: blobs}
	if len(blobs) > limit {
		page.Blobs = blobs[:limit]
		page.Next = page.Blobs[limit-1].Name
	}
	return page
}

// InstancePage cuts a listing read with limit+1 rows into a page; desc marks a newest-first one.
func InstancePage(ins []*store.Instance, limit int, desc bool) *store.InstancePage {
	page := &store.InstancePage{Instances: ins}
	if len(ins) > limit {
		page.Instances = ins[:limit]
		last := page.Instances[limit-1]
		page.Token = EncodeToken(ListToken{Created: Nanos(last.CreatedAt), ID: last.ID, Desc: desc})
	}
	return page
}

// QueueColumns are the columns ScanQueueMessage reads, in its order.
const QueueColumns = `seq, queue, id, COALESCE(pop_receipt, ''), body, inserted_at, expires_at, visible_at,
	dequeue_count, COALESCE(last_error, '')`

// ScanQueueMessage reads extra, then QueueColumns; it returns the message and its seq.
func ScanQueueMessage(scan Scan, extra ...any) (*store.QueueMessage, int64, error) {
	var m store.QueueMessage
	var seq, inserted, expires, visible int64
	if err := scan(append(extra, &seq, &m.Queue, &m.ID, &m.PopReceipt, &m.Body, &inserted, &expires, &visible,
		&m.DequeueCount, &m.LastError)...); err != nil {
		return nil, 0, err
	}
	if m.Body == nil {
		m.Body = []byte{}
	}
	m.InsertedAt, m.ExpiresAt, m.VisibleAt = FromNanos(inserted), FromNanos(expires), FromNanos(visible)
	return &m, seq, nil
}

// QueueMessages is the Collector of rows of QueueColumns.
func QueueMessages(rows Rows) ([]*store.QueueMessage, error) {
	return All(func(scan Scan) (*store.QueueMessage, error) {
		m, _, err := ScanQueueMessage(scan)
		return m, err
	})(rows)
}

// DeliveryColumns are the columns ScanDelivery reads, in its order.
const DeliveryColumns = `id, subscription, event_id, event, attempts, next_attempt, expires_at, COALESCE(last_error, ''),
	created_at, COALESCE(lock_owner, ''), lock_expiry`

// ScanDelivery reads DeliveryColumns.
func ScanDelivery(scan Scan) (*store.Delivery, error) {
	var d store.Delivery
	var next, expires, created, lockExpiry int64
	if err := scan(&d.ID, &d.Subscription, &d.EventID, &d.Event, &d.Attempts, &next, &expires, &d.LastError,
		&created, &d.LockOwner, &lockExpiry); err != nil {
		return nil, err
	}
	d.NextAttempt, d.ExpiresAt, d.CreatedAt, d.LockExpiry = FromNanos(next), FromNanos(expires), FromNanos(created), FromNanos(lockExpiry)
	return &d, nil
}

// DeliveryCounts are pending deliveries and dead letters by subscription.
type DeliveryCounts struct{ Pending, Dead map[string]int }

// CountDeliveries is the Collector of rows of (dead, subscription, count): the pending
// deliveries (dead false) and the dead letters of each subscription.
func CountDeliveries(rows Rows) (DeliveryCounts, error) {
	c := DeliveryCounts{Pending: map[string]int{}, Dead: map[string]int{}}
	for rows.Next() {
		var dead bool
		var k string
		var n int
		if err := rows.Scan(&dead, &k, &n); err != nil {
			return DeliveryCounts{}, err
		}
		if dead {
			c.Dead[k] = n
		} else {
			c.Pending[k] = n
		}
	}
	return c, rows.Err()
}

// ScanDeadLetter reads id, subscription, event_id, event, attempts, reason, at.
func ScanDeadLetter(scan Scan) (*store.DeadLetter, error) {
	var d store.DeadLetter
	var at int64
	if err := scan(&d.ID, &d.Subscription, &d.EventID, &d.Event, &d.Attempts, &d.Reason, &at); err != nil {
		return nil, err
	}
	d.At = FromNanos(at)
	return &d, nil
}

// SubscriptionColumns are the columns ScanSubscription reads, in its order.
const SubscriptionColumns = `name, spec, updated_at`

// ScanSubscription reads SubscriptionColumns.
func ScanSubscription(scan Scan) (*store.SubscriptionRecord, error) {
	var s store.SubscriptionRecord
	var updated int64
	if err := scan(&s.Name, &s.Spec, &updated); err != nil {
		return nil, err
	}
	s.UpdatedAt = FromNanos(updated)
	return &s, nil
}

// LeasedTaskColumns are the columns a task lease returns, in the order LeasedTasks reads them.
const LeasedTaskColumns = `seq, instance_id, execution_id, task_id, name, input, attempt, COALESCE(lock_owner, ''), lock_expiry,
	created_at`

// LeasedTasks is the Collector of the rows a task lease returns (LeasedTaskColumns); it
// returns the tasks oldest first: RETURNING yields rows in update order.
func LeasedTasks(rows Rows) ([]*store.Task, error) {
	var seqs []int64
	tasks, err := All(func(scan Scan) (*store.Task, error) {
		t := &store.Task{}
		var input []byte
		var seq, expiry, created int64
		if err := scan(&seq, &t.InstanceID, &t.ExecutionID, &t.TaskID, &t.Name, &input, &t.Attempt, &t.LockOwner, &expiry, &created); err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
		t.Input = RawOrNil(input)
		t.LockExpiry = FromNanos(expiry)
		t.CreatedAt = FromNanos(created)
		return t, nil
	})(rows)
	if err != nil {
		return nil, err
	}
	return SortBySeq(tasks, seqs), nil
}

// CommitEncoded is an OrchestrationCommitParams with its JSON encoded before the write.
type CommitEncoded struct {
	Events   [][]byte
	Types    []string
	Messages []EncodedMessage
	Subs     []*EncodedInstance
	Failure  []byte
}

// EncodeCommit encodes what p writes.
func EncodeCommit(p *store.OrchestrationCommitParams) (*CommitEncoded, error) {
	c := &CommitEncoded{Events: make([][]byte, len(p.Append)), Types: make([]string, len(p.Append))}
	for i, ev := range p.Append {
		data, err := history.Marshal(ev)
		if err != nil {
			return nil, err
		}
		c.Events[i], c.Types[i] = data, string(ev.Type)
	}
	var err error
	if c.Messages, err = EncodeMessages(p.Messages); err != nil {
		return nil, err
	}
	c.Subs = make([]*EncodedInstance, len(p.SubOrchestrations))
	for i, s := range p.SubOrchestrations {
		if c.Subs[i], err = EncodeInstance(s); err != nil {
			return nil, err
		}
	}
	if c.Failure, err = JSONOrNil(p.Update.Failure); err != nil {
		return nil, err
	}
	return c, nil
}

// ValidateLeader checks the names of a leader lease.
func ValidateLeader(role, holder string) error {
	if role == "" || holder == "" {
		return fmt.Errorf("leader lease: role and holder are required: %w", store.ErrInvalid)
	}
	return nil
}
