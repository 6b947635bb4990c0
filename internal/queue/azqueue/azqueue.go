// Package azqueue is the work queue on Azure Storage Queue (and Azurite), through the official
// SDK (github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2).
//
// An orca queue is the Azure queue of the same name (Config.Prefix, empty by default, can put
// several deployments in one account), and a message is a plain Azure queue message whose text
// is the body (EncodingText, the default) or the body in base64 (EncodingBase64). So the seeds'
// compute containers, which read and write the queue with the Python SDK's QueueClient and its
// default (no) encoding, and KEDA's azure-queue scaler, which reads the queue's approximate
// message count, work unchanged against the queue orca writes. Queues are created on the first
// enqueue into them.
//
// What differs from the embedded backend, and why:
//
//   - Time is the service's: visibility timeouts, delays and time to live are whole seconds
//     (a fraction is rounded up), and message times come back in whole seconds. Config.Clock
//     only paces long polls and stamps poison reports.
//   - Long polling (DequeueOptions.Wait) polls: Azure has no long poll, so an empty dequeue is
//     retried after 50 ms, doubling to 1 s, until a message comes, Wait passes or ctx ends.
//   - Stats: Azure counts a queue's messages only as a whole (its approximate message count,
//     which includes the invisible ones: what KEDA scales on). Length() is always that count.
//     Visible is what a peek sees when it sees fewer than 32 messages, and InFlight the rest;
//     with 32 or more visible the split is unknown, and every message counts as Visible. Azure
//     documents the count as possibly higher than the truth (Azurite's is exact).
//   - LastError: Azure messages have no such field, and writing it into the message would
//     change what other consumers read. It is remembered in memory by the process that
//     recorded it (Config.MaxLastErrors entries, each cut to 4 KiB): another process, or this
//     one after a restart, sees none. Update never changes a message's content.
//   - Poison queues are Azure Functions': a message dequeued more than MaxDequeueCount times is
//     copied to "<queue>-poison" as a new message (new id, inserted at the move, dequeue count
//     0, the original's remaining time to live) and the original is deleted. The report
//     (queue.PoisonEvents) carries the copy's id with the original's body, insertion time,
//     last error and the number of deliveries. See poison.go for the order of the steps and why
//     a crash between them loses nothing.
//   - Names: a poison queue's name must fit Azure's 63 characters too, so a queue whose name
//     (with Prefix) is longer than 56 characters cannot be enqueued to (queue.ErrInvalidName).
//   - Bodies: with EncodingText a body must be UTF-8 text that XML can carry (no NUL or other
//     control characters than tab, newline and carriage return), at most 64 KiB; other bodies
//     fail with queue.ErrInvalid. With EncodingBase64 any bytes are allowed, at most 48 KiB
//     (their base64 text is then 64 KiB, Azure's limit).
package azqueue

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2/queueerror"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Encoding is how a message body is written as an Azure message's text.
type Encoding string

const (
	// EncodingText writes the body as the text itself, as the Python, Go, .NET v12 and JS SDKs
	// do by default (the seeds' containers read it so). Bodies must be XML-safe UTF-8.
	EncodingText Encoding = "text"
	// EncodingBase64 writes the body in standard base64, as Azure Functions' queue trigger
	// and output binding expect by default (messageEncoding "base64").
	EncodingBase64 Encoding = "base64"
)

// Publisher writes the effects of an event in a transaction of their own, once per event id.
// store.ComputeBackend implements it.
type Publisher interface {
	EventPublish(ctx context.Context, p *store.EventPublishParams) (duplicate bool, err error)
}

// Config configures a Service.
type Config struct {
	// Client is the queue service client (required); see NewClient.
	Client *Client
	// Encoding of message bodies ("": EncodingText).
	Encoding Encoding
	// Prefix is put before every queue name in the account ("": none, so orca's queue "input"
	// is the account's queue "input"). List lists only the queues with the prefix.
	Prefix string
	// MaxDequeueCount is how many times a message may be dequeued; the next dequeue moves it to
	// the poison queue "<queue>-poison" instead. 0 means queue.DefaultMaxDequeueCount. Messages
	// of a queue whose name ends in "-poison" are never poisoned again.
	MaxDequeueCount int
	// Poison builds the report of every message moved to a poison queue, and Store publishes
	// its effects (required when Poison is set). A nil Poison moves messages without a report.
	Poison queue.PoisonEvents
	Store  Publisher
	// Clock paces long polls and stamps reports (nil: the wall clock). Message times are the
	// service's.
	Clock clock.Clock
	// MaxLastErrors bounds the last errors remembered in memory (0: DefaultMaxLastErrors); the
	// oldest are forgotten first.
	MaxLastErrors int
	// Logger receives what cannot be returned: failed poison moves, which are retried when the
	// message becomes visible again (nil: discarded).
	Logger *slog.Logger
}

// Defaults and limits.
const (
	DefaultMaxLastErrors = 10000
	// maxLastError bounds a remembered last error (cut at a UTF-8 boundary).
	maxLastError = 4 << 10
	// maxText is Azure's largest message text.
	maxText = 64 << 10
	// maxName is Azure's longest queue name.
	maxName = 63
	// poisonSuffix ends the name of every poison queue (queue.PoisonName).
	poisonSuffix = "-poison"
	// pollMin and pollMax bound the pause between the dequeues of a long poll.
	pollMin = 50 * time.Millisecond
	pollMax = time.Second
	// maxPoisonRounds bounds the dequeues one Dequeue makes to replace poisoned messages.
	maxPoisonRounds = 4
)

// Service is the Azure Storage Queue service. It is safe for concurrent use.
type Service struct {
	cfg     Config
	svc     *azqueue.ServiceClient
	clk     clock.Clock
	log     *slog.Logger
	created sync.Map // Azure names of queues known to exist
	errs    *lastErrors
}

var _ queue.Service = (*Service)(nil)

// New validates cfg, fills in its defaults and returns a service. It does not contact Azure.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Client == nil || cfg.Client.svc == nil:
		return nil, errors.New("azure queue: Client is required")
	case cfg.Poison != nil && cfg.Store == nil:
		return nil, errors.New("azure queue: a Store to publish poison reports to is required with Poison")
	case cfg.MaxDequeueCount < 0:
		return nil, fmt.Errorf("azure queue: MaxDequeueCount %d is negative", cfg.MaxDequeueCount)
	case cfg.MaxLastErrors < 0:
		return nil, fmt.Errorf("azure queue: MaxLastErrors %d is negative", cfg.MaxLastErrors)
	}
	switch cfg.Encoding {
	case "":
		cfg.Encoding = EncodingText
	case EncodingText, EncodingBase64:
	default:
		return nil, fmt.Errorf("azure queue: unknown encoding %q; want %q or %q", cfg.Encoding, EncodingText, EncodingBase64)
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if cfg.MaxDequeueCount == 0 {
		cfg.MaxDequeueCount = queue.DefaultMaxDequeueCount
	}
	if cfg.MaxLastErrors == 0 {
		cfg.MaxLastErrors = DefaultMaxLastErrors
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, svc: cfg.Client.svc, clk: cfg.Clock, log: cfg.Logger, errs: newLastErrors(cfg.MaxLastErrors)}, nil
}

// Check reads the account's queue service properties, to fail early on a wrong endpoint or
// key.
func (s *Service) Check(ctx context.Context) error {
	if _, err := s.svc.GetServiceProperties(ctx, nil); err != nil {
		return fmt.Errorf("azure queue: %w", err)
	}
	return nil
}

func isPoisonQueue(name string) bool { return strings.HasSuffix(name, poisonSuffix) }

// checkPrefix checks a queue name prefix: it starts every name, so it must be a valid start of
// one, and leave room for a three-character name and its poison suffix.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := queue.ValidateName(prefix + "aaa"); err != nil || len(prefix) > maxName-len(poisonSuffix)-3 {
		return fmt.Errorf("azure queue: prefix %q must be lowercase letters, digits and single hyphens, at most %d characters",
			prefix, maxName-len(poisonSuffix)-3)
	}
	return nil
}

// CheckQueue reports whether q can be enqueued to: a valid name whose Azure name (with the
// prefix) and whose poison queue's both fit Azure's 63 characters. Poison queues themselves
// pass.
func (s *Service) CheckQueue(q string) error {
	full, err := s.azName(q)
	if err != nil {
		return err
	}
	if !isPoisonQueue(q) && len(full)+len(poisonSuffix) > maxName {
		return fmt.Errorf("queue name %q: its poison queue's name would be longer than %d characters with the prefix %q: %w",
			q, maxName, s.cfg.Prefix, queue.ErrInvalidName)
	}
	return nil
}

// azName checks an orca queue name and returns the Azure queue's. Poison queues of valid names
// are valid; the full name must be a valid Azure name.
func (s *Service) azName(q string) (string, error) {
	if err := queue.ValidateName(q); err != nil {
		base, ok := strings.CutSuffix(q, poisonSuffix)
		if !ok || queue.ValidateName(base) != nil {
			return "", err
		}
	}
	full := s.cfg.Prefix + q
	if len(full) > maxName {
		return "", fmt.Errorf("queue name %q is %d characters with the prefix %q; Azure allows %d: %w",
			q, len(full), s.cfg.Prefix, maxName, queue.ErrInvalidName)
	}
	return full, nil
}

// mapErr maps Azure's errors onto the queue's sentinel errors.
func mapErr(err error) error {
	switch {
	case queueerror.HasCode(err, queueerror.MessageNotFound, queueerror.QueueNotFound, queueerror.ResourceNotFound):
		return fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	case queueerror.HasCode(err, queueerror.PopReceiptMismatch):
		return fmt.Errorf("%w: %w", queue.ErrPopReceiptMismatch, err)
	case queueerror.HasCode(err, queueerror.MessageTooLarge, queueerror.RequestBodyTooLarge):
		return fmt.Errorf("%w: %w", queue.ErrTooLarge, err)
	case queueerror.HasCode(err, queueerror.InvalidResourceName, queueerror.OutOfRangeInput):
		return fmt.Errorf("%w: %w", queue.ErrInvalidName, err)
	case queueerror.HasCode(err, queueerror.InvalidQueryParameterValue, queueerror.OutOfRangeQueryParameterValue,
		queueerror.InvalidXMLDocument, queueerror.InvalidXMLNodeValue, queueerror.InvalidInput):
		return fmt.Errorf("%w: %w", queue.ErrInvalid, err)
	}
	return err
}

func queueMissing(err error) bool { return queueerror.HasCode(err, queueerror.QueueNotFound) }

// seconds converts a duration to Azure's whole seconds, rounding a fraction up.
func seconds(d time.Duration) int32 {
	s := (d + time.Second - 1) / time.Second
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(s)
}

// encode returns the message text of body.
func (s *Service) encode(q string, body []byte) (string, error) {
	if s.cfg.Encoding == EncodingBase64 {
		if n := base64.StdEncoding.EncodedLen(len(body)); n > maxText {
			return "", fmt.Errorf("enqueue to %s: body of %d bytes is %d in base64, more than %d: %w", q, len(body), n, maxText, queue.ErrTooLarge)
		}
		return base64.StdEncoding.EncodeToString(body), nil
	}
	if len(body) > maxText {
		return "", fmt.Errorf("enqueue to %s: body of %d bytes exceeds %d: %w", q, len(body), maxText, queue.ErrTooLarge)
	}
	if !isXMLText(body) {
		return "", fmt.Errorf("enqueue to %s: the body is not XML-safe UTF-8 text, which the text encoding needs (use base64): %w", q, queue.ErrInvalid)
	}
	return string(body), nil
}

// decode returns the body of a message text. Text that is not base64 under EncodingBase64 (a
// message another producer wrote) is returned as it is.
func (s *Service) decode(text *string) []byte {
	if text == nil {
		return []byte{}
	}
	if s.cfg.Encoding == EncodingBase64 {
		if b, err := base64.StdEncoding.DecodeString(*text); err == nil {
			return b
		}
	}
	return []byte(*text)
}

// isXMLText reports whether b is UTF-8 made of characters XML 1.0 allows.
func isXMLText(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		ok := r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
		if !ok {
			return false
		}
		b = b[n:]
	}
	return true
}

// timeOf converts a service time; Azure's "never" (year 9999) is the zero time.
func timeOf(t *time.Time) time.Time {
	if t == nil || t.Year() >= 9999 {
		return time.Time{}
	}
	return t.UTC()
}

// Enqueue adds a message, creating the queue if it does not exist. A negative TTL (or one
// longer than Azure's int32 seconds) never expires; a delay must be shorter than the TTL.
func (s *Service) Enqueue(ctx context.Context, q string, body []byte, opts queue.EnqueueOptions) (*queue.Message, error) {
	if err := s.CheckQueue(q); err != nil {
		return nil, err
	}
	full := s.cfg.Prefix + q
	text, err := s.encode(q, body)
	if err != nil {
		return nil, err
	}
	if err := queue.CheckVisibility("visibility delay", opts.VisibilityDelay); err != nil {
		return nil, fmt.Errorf("enqueue to %s: %w", q, err)
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = queue.DefaultTTL
	}
	eo := &azqueue.EnqueueMessageOptions{VisibilityTimeout: to.Ptr(seconds(opts.VisibilityDelay)), TimeToLive: to.Ptr(int32(-1))}
	if ttl > 0 && ttl < time.Duration(math.MaxInt32)*time.Second {
		eo.TimeToLive = to.Ptr(seconds(ttl))
		if *eo.VisibilityTimeout >= *eo.TimeToLive {
			return nil, fmt.Errorf("enqueue to %s: visibility delay %v must be shorter than the time to live %v (in whole seconds): %w",
				q, opts.VisibilityDelay, ttl, queue.ErrInvalid)
		}
	}
	m, err := s.enqueue(ctx, full, text, eo)
	if err != nil {
		return nil, fmt.Errorf("enqueue to %s: %w", q, err)
	}
	if body == nil {
		body = []byte{}
	}
	return &queue.Message{ID: deref(m.MessageID, ""), Body: body, InsertedAt: timeOf(m.InsertionTime),
		ExpiresAt: timeOf(m.ExpirationTime), NextVisible: timeOf(m.TimeNextVisible)}, nil
}

// enqueue puts a message text into the Azure queue full, creating it when it is missing.
func (s *Service) enqueue(ctx context.Context, full, text string, eo *azqueue.EnqueueMessageOptions) (*azqueue.EnqueuedMessage, error) {
	qc := s.svc.NewQueueClient(full)
	if _, ok := s.created.Load(full); !ok {
		if _, err := qc.Create(ctx, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
			return nil, mapErr(err)
		}
		s.created.Store(full, true)
	}
	resp, err := qc.EnqueueMessage(ctx, text, eo)
	if queueMissing(err) {
		// Deleted since it was created.
		s.created.Delete(full)
		if _, err := qc.Create(ctx, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
			return nil, mapErr(err)
		}
		s.created.Store(full, true)
		resp, err = qc.EnqueueMessage(ctx, text, eo)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	if len(resp.Messages) != 1 || resp.Messages[0].MessageID == nil {
		return nil, fmt.Errorf("azure returned %d messages for one enqueue", len(resp.Messages))
	}
	return resp.Messages[0], nil
}

// Dequeue takes up to opts.Max visible messages (see queue.Service), moving those dequeued
// too often to the poison queue instead of returning them. With opts.Wait > 0 and nothing
// visible it polls (50 ms doubling to 1 s) until a message comes, Wait passes (nil, nil) or
// ctx ends (ctx's error). A missing queue is an empty one.
func (s *Service) Dequeue(ctx context.Context, q string, opts queue.DequeueOptions) ([]*queue.Message, error) {
	full, err := s.azName(q)
	if err != nil {
		return nil, err
	}
	limit, vis, err := opts.Check(queue.MaxDequeueBatch)
	if err != nil {
		return nil, err
	}
	var expired <-chan time.Time
	pause := pollMin
	for {
		msgs, err := s.dequeueOnce(ctx, q, full, limit, vis)
		if err != nil || len(msgs) > 0 || opts.Wait == 0 {
			return msgs, err
		}
		if expired == nil {
			expired = s.clk.After(opts.Wait)
		}
		select {
		case <-expired:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.clk.After(pause):
			pause = min(2*pause, pollMax)
		}
	}
}

// dequeueOnce runs one dequeue (and as many more, up to maxPoisonRounds, as it takes to replace
// messages it moved to the poison queue).
func (s *Service) dequeueOnce(ctx context.Context, q, full string, limit int, vis time.Duration) ([]*queue.Message, error) {
	qc := s.svc.NewQueueClient(full)
	var out []*queue.Message
	for range maxPoisonRounds {
		resp, err := qc.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages: to.Ptr(int32(limit - len(out))), VisibilityTimeout: to.Ptr(max(seconds(vis), 1))})
		if queueMissing(err) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("dequeue from %s: %w", q, mapErr(err))
		}
		poisoned := 0
		for _, d := range resp.Messages {
			m := s.fromDequeued(full, d)
			if !isPoisonQueue(q) && m.DequeueCount > s.cfg.MaxDequeueCount {
				s.poison(ctx, q, full, m, vis)
				poisoned++
				continue
			}
			out = append(out, m)
		}
		if poisoned == 0 || len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *Service) fromDequeued(full string, d *azqueue.DequeuedMessage) *queue.Message {
	id := deref(d.MessageID, "")
	return &queue.Message{ID: id, PopReceipt: deref(d.PopReceipt, ""), Body: s.decode(d.MessageText),
		InsertedAt: timeOf(d.InsertionTime), ExpiresAt: timeOf(d.ExpirationTime), NextVisible: timeOf(d.TimeNextVisible),
		DequeueCount: int(deref(d.DequeueCount, 0)), LastError: s.errs.get(full, id)}
}

// Delete deletes a message held with popReceipt.
func (s *Service) Delete(ctx context.Context, q, id, popReceipt string) error {
	full, err := s.azName(q)
	if err != nil {
		return err
	}
	if id == "" || popReceipt == "" {
		return fmt.Errorf("delete message %q from %s: an id and a pop receipt are required: %w", id, q, queue.ErrNotFound)
	}
	if _, err := s.svc.NewQueueClient(full).DeleteMessage(ctx, id, popReceipt, nil); err != nil {
		return fmt.Errorf("delete message %s from %s: %w", id, q, mapErr(err))
	}
	s.errs.forget(full, id)
	return nil
}

// Update changes a message held with popReceipt: it becomes visible after
// opts.VisibilityTimeout (0: at once; a fraction of a second is rounded up); opts.LastError,
// when set, is remembered by this process (cut to 4 KiB); opts.Unstarted changes nothing (Azure
// counts every delivery and cannot take one back). The message's content is not changed. The
// returned message carries the ID, the new PopReceipt, NextVisible and, when set, LastError.
func (s *Service) Update(ctx context.Context, q, id, popReceipt string, opts queue.UpdateOptions) (*queue.Message, error) {
	full, err := s.azName(q)
	if err != nil {
		return nil, err
	}
	if err := queue.CheckVisibility("update: visibility timeout", opts.VisibilityTimeout); err != nil {
		return nil, err
	}
	if id == "" || popReceipt == "" {
		return nil, fmt.Errorf("update message %q in %s: an id and a pop receipt are required: %w", id, q, queue.ErrNotFound)
	}
	resp, err := s.svc.NewQueueClient(full).UpdateMessage(keepContent(ctx), id, popReceipt, "",
		&azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr(seconds(opts.VisibilityTimeout))})
	if err != nil {
		return nil, fmt.Errorf("update message %s in %s: %w", id, q, mapErr(err))
	}
	var lastError string
	if opts.LastError != "" {
		lastError = queue.TruncateLastError(opts.LastError, maxLastError)
		s.errs.set(full, id, lastError)
	}
	return &queue.Message{ID: id, PopReceipt: deref(resp.PopReceipt, ""), NextVisible: timeOf(resp.TimeNextVisible), LastError: lastError}, nil
}

// Peek returns up to limit visible messages (1 to 32, 0 meaning 1) without dequeuing them.
// Azure does not say when a peeked message became visible: NextVisible is zero.
func (s *Service) Peek(ctx context.Context, q string, limit int) ([]*queue.Message, error) {
	full, err := s.azName(q)
	if err != nil {
		return nil, err
	}
	n, err := queue.BatchSize("peek: max", limit, queue.MaxDequeueBatch)
	if err != nil {
		return nil, err
	}
	resp, err := s.svc.NewQueueClient(full).PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(n))})
	if queueMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", q, mapErr(err))
	}
	out := make([]*queue.Message, 0, len(resp.Messages))
	for _, p := range resp.Messages {
		id := deref(p.MessageID, "")
		out = append(out, &queue.Message{ID: id, Body: s.decode(p.MessageText), InsertedAt: timeOf(p.InsertionTime),
			ExpiresAt: timeOf(p.ExpirationTime), DequeueCount: int(deref(p.DequeueCount, 0)), LastError: s.errs.get(full, id)})
	}
	return out, nil
}

// Stats returns a queue's approximate message count as Length(), split into Visible and
// InFlight by a peek when fewer than 32 messages are visible (else all count as Visible); a
// missing queue has none.
func (s *Service) Stats(ctx context.Context, q string) (queue.Stats, error) {
	full, err := s.azName(q)
	if err != nil {
		return queue.Stats{}, err
	}
	st, err := s.stats(ctx, full)
	if err != nil {
		return queue.Stats{}, fmt.Errorf("stats of %s: %w", q, err)
	}
	st.Queue = q
	return st, nil
}

func (s *Service) stats(ctx context.Context, full string) (queue.Stats, error) {
	qc := s.svc.NewQueueClient(full)
	props, err := qc.GetProperties(ctx, nil)
	if queueMissing(err) {
		return queue.Stats{}, nil
	}
	if err != nil {
		return queue.Stats{}, mapErr(err)
	}
	count := int(deref(props.ApproximateMessagesCount, 0))
	if count == 0 {
		return queue.Stats{}, nil
	}
	peek, err := qc.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(queue.MaxDequeueBatch))})
	if queueMissing(err) {
		return queue.Stats{}, nil
	}
	if err != nil {
		return queue.Stats{}, mapErr(err)
	}
	visible := len(peek.Messages)
	if visible >= queue.MaxDequeueBatch || visible >= count {
		return queue.Stats{Visible: count}, nil
	}
	return queue.Stats{Visible: visible, InFlight: count - visible}, nil
}

// List returns the stats of every queue of the account (with Prefix) that has messages, by
// name. It makes one or two requests per queue.
func (s *Service) List(ctx context.Context) ([]queue.Stats, error) {
	var out []queue.Stats
	pager := s.svc.NewListQueuesPager(&azqueue.ListQueuesOptions{Prefix: to.Ptr(s.cfg.Prefix)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list queues: %w", mapErr(err))
		}
		for _, item := range page.Queues {
			full := deref(item.Name, "")
			name, ok := strings.CutPrefix(full, s.cfg.Prefix)
			if !ok {
				continue
			}
			st, err := s.stats(ctx, full)
			if err != nil {
				return nil, fmt.Errorf("list queues: stats of %s: %w", name, err)
			}
			if st.Length() > 0 {
				st.Queue = name
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// deref returns *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
