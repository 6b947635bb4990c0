// Package store defines the durable state of a task hub and the contract every backend keeps.
//
// The state is five kinds of rows: instances (one per instance id, with its runtime status and an
// orchestration lock), history (the events of the current execution), the inbox (messages waiting
// for an instance: ExecutionStarted, completions, timers, external events, control requests),
// tasks (activity work items with leases) and nothing else. Every orchestration step is one call
// to OrchestrationCommit, which a backend must apply atomically (guarantee 1, docs/guarantees.md).
//
// Backends: internal/store/sqlite (embedded), internal/store/postgres (scale-out). Each backend runs the conformance suite in
// internal/store/storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/history"
)

// Sentinel errors. Backends map their native errors onto these; callers test with errors.Is.
var (
	// ErrNotFound: no instance (or task) with that id.
	ErrNotFound = errors.New("not found")
	// ErrInstanceExists: an instance with that id is Pending, Running, Suspended or ContinuedAsNew.
	ErrInstanceExists = errors.New("instance already exists")
	// ErrWrongStatus: the instance's status does not allow the operation.
	ErrWrongStatus = errors.New("wrong status for this operation")
	// ErrLeaseLost: the caller does not hold the lock or lease it claims, or the row changed
	// under it. The operation changed nothing.
	ErrLeaseLost = errors.New("lease lost")
	// ErrClosed: the backend was closed.
	ErrClosed = errors.New("store closed")
	// ErrInvalid: a malformed argument, such as a continuation token that was not issued.
	ErrInvalid = errors.New("invalid argument")
)

// StatusError reports the status that made an operation fail; it wraps ErrInstanceExists or
// ErrWrongStatus.
type StatusError struct {
	InstanceID string
	Status     Status
	Err        error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("instance %s is %s: %v", e.InstanceID, e.Status, e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// Status is an instance's runtime status. The values are persisted and are Durable Functions'.
type Status string

// Runtime statuses.
const (
	StatusPending        Status = "Pending"
	StatusRunning        Status = "Running"
	StatusCompleted      Status = "Completed"
	StatusContinuedAsNew Status = "ContinuedAsNew"
	StatusFailed         Status = "Failed"
	StatusTerminated     Status = "Terminated"
	StatusSuspended      Status = "Suspended"
)

// Statuses lists every status.
var Statuses = []Status{StatusPending, StatusRunning, StatusCompleted, StatusContinuedAsNew,
	StatusFailed, StatusTerminated, StatusSuspended}

// Finished reports whether the status is terminal: Completed, Failed or Terminated.
func (s Status) Finished() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusTerminated
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, k := range Statuses {
		if k == s {
			return true
		}
	}
	return false
}

// ParseStatus returns the status named s (case-sensitive, as DF).
func ParseStatus(s string) (Status, bool) {
	st := Status(s)
	return st, st.Valid()
}

// Instance is an instance row.
type Instance struct {
	ID          string
	Name        string
	ExecutionID string
	Status      Status
	// Input, Output and CustomStatus are JSON; Input and Output are empty unless requested.
	Input        json.RawMessage
	Output       json.RawMessage
	CustomStatus json.RawMessage
	Failure      *history.FailureDetails
	Parent       *history.ParentInstance
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// HistoryLen is the number of history events of the current execution.
	HistoryLen int
	LockOwner  string
	LockExpiry time.Time
}

// InstanceCreateParams creates an instance, or replaces a finished one with the same id.
type InstanceCreateParams struct {
	ID   string
	Name string
	// Started is the ExecutionStarted event; the backend stores it as the instance's first inbox
	// message.
	Started   *history.Event
	CreatedAt time.Time
	// Owner, when set, creates the instance already locked by Owner until LockExpiry, so the node
	// that created it can run it without leasing it first.
	Owner      string
	LockExpiry time.Time
	// StartAt, when after CreatedAt, is a scheduled start: the instance stays Pending and its
	// ExecutionStarted message invisible until then, and messages sent to it meanwhile (events,
	// terminate, suspend) are held until then too, so its first turn sees its start first.
	// Owner must be empty.
	StartAt time.Time
}

// InstanceListParams filters InstanceList. Zero values do not filter.
type InstanceListParams struct {
	Statuses    []Status
	CreatedFrom time.Time
	CreatedTo   time.Time
	IDPrefix    string
	// Limit is the page size (required, > 0).
	Limit int
	// Token continues a previous listing; empty starts from the beginning.
	Token string
	// WithPayloads includes Input and Output.
	WithPayloads bool
	// NewestFirst lists in the reverse order (newest created first). A token continues only a
	// listing in the same order; given to the other order it fails with ErrInvalid.
	NewestFirst bool
}

// InstancePage is a page of InstanceList. Token is empty when there are no more pages; a page is
// never empty while Token is set.
type InstancePage struct {
	Instances []*Instance
	Token     string
}

// InstancePurgeParams selects finished instances to delete in one call of InstancePurgeBatch.
type InstancePurgeParams struct {
	// Statuses must all be finished statuses; empty means all finished ones.
	Statuses    []Status
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Limit bounds the instances deleted by one call (one transaction).
	Limit int
}

// HistoryReadParams pages through an instance's history.
type HistoryReadParams struct {
	InstanceID string
	// After is the sequence number to continue after; -1 starts at the beginning.
	After int
	// Limit is the page size (required, > 0).
	Limit int
	// Types filters by event type; empty returns every type.
	Types []history.Type
}

// HistoryRecord is a history event and its position (0-based) in the history.
type HistoryRecord struct {
	Seq   int
	Event *history.Event
}

// Message is an inbox message: an event waiting to be applied to an instance.
type Message struct {
	ID         int64
	InstanceID string
	// ExecutionID targets one execution; messages for another execution are dropped when applied.
	// Empty targets whatever execution is current.
	ExecutionID string
	Event       *history.Event
	// VisibleAt delays the message (durable timers). Zero makes it visible at the current time
	// the call passes (MessageSendParams.Now, TaskCompleteParams.Now, the commit's UpdatedAt),
	// or at once when that is zero too. Backends read no clock of their own.
	VisibleAt time.Time
}

// MessageSendParams sends messages to one instance from outside an orchestration (events,
// terminate, suspend, resume, rewind requests).
type MessageSendParams struct {
	InstanceID string
	Messages   []*Message
	// Now is the caller's current time (see Message.VisibleAt).
	Now time.Time
	// RequireStatus, when not empty, sends only if the instance's status is one of these;
	// otherwise it returns a *StatusError wrapping ErrWrongStatus.
	RequireStatus []Status
}

// OrchestrationLeaseParams leases instances that have visible inbox messages.
type OrchestrationLeaseParams struct {
	Owner      string
	Now        time.Time
	LockExpiry time.Time
	Limit      int
	// IDs restricts the lease to these instances (may be empty).
	IDs []string
}

// TaskKey identifies an activity task: the action TaskID of one execution of an instance.
type TaskKey struct {
	InstanceID  string
	ExecutionID string
	TaskID      int32
}

// Task is an activity work item.
type Task struct {
	TaskKey
	Name  string
	Input json.RawMessage
	// Attempt counts leases: 1 for the first delivery. It fences completions: only the holder of
	// the latest lease may complete.
	Attempt    int
	LockOwner  string
	LockExpiry time.Time
	CreatedAt  time.Time
}

// TaskCreate is a new activity task written by OrchestrationCommit. With Owner set it is created
// already leased (Attempt 1) so the committing node can run it without leasing it.
type TaskCreate struct {
	TaskKey
	Name       string
	Input      json.RawMessage
	Owner      string
	LockExpiry time.Time
}

// OrchestrationCommitParams is one orchestration step. A backend applies all of it or nothing.
type OrchestrationCommitParams struct {
	InstanceID string
	// Owner must hold the instance's lock and ExpectHistoryLen must match the stored history
	// length, else the commit fails with ErrLeaseLost.
	Owner            string
	ExpectHistoryLen int
	// TruncateHistory, when > 0, deletes history events from that position on before Append
	// (rewind); 0 truncates nothing. ResetHistory deletes the whole history (continue-as-new).
	TruncateHistory int
	ResetHistory    bool
	Append          []*history.Event
	// Consumed inbox messages (of this instance) are deleted.
	Consumed []int64
	// CompletedTasks are deleted: their results are in Append.
	CompletedTasks []TaskKey
	// EndExecution deletes the current execution's tasks and the inbox messages addressed to it
	// (timers, completions): the execution ended and its pending work is void. Messages addressed
	// to no execution in particular (external events) stay.
	EndExecution bool
	Tasks        []*TaskCreate
	// Messages go to inboxes: timers and carry-over to this instance, events and completions to
	// others. A message to an instance that does not exist is dropped.
	Messages []*Message
	// SubOrchestrations are created. A sub-orchestration whose id is taken by an unfinished
	// instance is not created; instead its parent (this instance) receives a
	// SubOrchestrationInstanceFailed message for the action.
	SubOrchestrations []*InstanceCreateParams

	Update InstanceUpdate
	// KeepState leaves status, custom status, output and failure as they are; only UpdatedAt,
	// the history length and the lock change (a step that only drops messages).
	KeepState bool
	// Release releases the lock; otherwise it is extended to LockExpiry.
	Release    bool
	LockExpiry time.Time
}

// InstanceUpdate is the instance row's new state after a step.
type InstanceUpdate struct {
	Status       Status
	CustomStatus json.RawMessage
	Output       json.RawMessage
	Failure      *history.FailureDetails
	// ExecutionID and Input change when the instance continues as new.
	ExecutionID string
	Input       json.RawMessage
	UpdatedAt   time.Time
}

// TaskLeaseParams leases activity tasks that are not leased or whose lease expired.
type TaskLeaseParams struct {
	Owner      string
	Now        time.Time
	LockExpiry time.Time
	Limit      int
	// Names restricts the lease to these activities; empty leases any.
	Names []string
}

// TaskCompleteParams completes a leased task: the task is deleted and Result is put in its
// instance's inbox, atomically. The caller must hold the task's latest lease (Owner and Attempt).
type TaskCompleteParams struct {
	Key     TaskKey
	Owner   string
	Attempt int
	Result  *Message
	// Now is the caller's current time (see Message.VisibleAt).
	Now time.Time
}

// TaskLease identifies one lease of a task.
type TaskLease struct {
	Key     TaskKey
	Attempt int
}

// Feature names an optional backend capability.
type Feature string

// Features.
const (
	// FeatureMultiProcess: several processes may share the store (PostgreSQL). Without it, the
	// store belongs to one process and Open releases every lease left by a previous one.
	FeatureMultiProcess Feature = "multi-process"
	// FeatureWakeups: the backend implements Waker, so writes by any process wake the
	// dispatchers and long-polling consumers of every process (PostgreSQL LISTEN/NOTIFY).
	FeatureWakeups Feature = "wakeups"
)

// WakeKind says what kind of work a Wakeup announces.
type WakeKind string

// Wake-up kinds.
const (
	// WakeInbox: an instance (Wakeup.Key) has new inbox messages.
	WakeInbox WakeKind = "inbox"
	// WakeTasks: activity tasks were created or released.
	WakeTasks WakeKind = "tasks"
	// WakeQueue: a queue (Wakeup.Key) has messages that may be visible now.
	WakeQueue WakeKind = "queue"
	// WakeDeliveries: event outbox entries were created or released.
	WakeDeliveries WakeKind = "deliveries"
	// WakeSubscriptions: a subscription was created, replaced or deleted: routers reload them.
	WakeSubscriptions WakeKind = "subscriptions"
	// WakeAll: wake-ups may have been missed (the backend lost its connection): look at
	// everything.
	WakeAll WakeKind = "all"
)

// Wakeup announces that work may be waiting. It is a hint: a subscriber reads the store to find
// out, and still polls now and then, as wake-ups can be dropped (a full channel, a reconnect).
type Wakeup struct {
	Kind WakeKind
	Key  string
}

// Waker is implemented by backends with FeatureWakeups.
type Waker interface {
	// Subscribe returns a channel of wake-ups caused by committed writes of any process sharing
	// the store (this one included), and a function that ends the subscription. Wake-ups that
	// do not fit in the channel's buffer are dropped; after a gap the backend sends WakeAll.
	Subscribe() (<-chan Wakeup, func())
}

// Backend is a task hub's durable state. All methods are safe for concurrent use.
type Backend interface {
	ComputeBackend

	// Supports reports whether the backend has an optional capability.
	Supports(Feature) bool

	// LeaderAcquire takes or renews a role's lease (see LeaderAcquireParams). It returns the
	// lease as it stands and whether p.Holder holds it now; when not, nothing changed and the
	// lease is another holder's (possibly as of a moment ago).
	LeaderAcquire(ctx context.Context, p *LeaderAcquireParams) (lease LeaderLease, held bool, err error)
	// LeaderRelease ends holder's lease of role at once when it still carries fence, so another
	// process can take it without waiting for it to expire; otherwise it does nothing.
	LeaderRelease(ctx context.Context, role, holder string, fence int64) error
	// Close releases the backend's resources.
	Close() error

	// InstanceCreate creates an instance with status Pending and puts p.Started in its inbox.
	// An unfinished instance with that id fails it with a *StatusError wrapping
	// ErrInstanceExists; a finished one is replaced (its history, inbox and tasks deleted).
	InstanceCreate(ctx context.Context, p *InstanceCreateParams) error
	// InstanceGet returns an instance; withPayloads includes Input and Output.
	InstanceGet(ctx context.Context, id string, withPayloads bool) (*Instance, error)
	// InstanceList lists instances by creation time, then id.
	InstanceList(ctx context.Context, p *InstanceListParams) (*InstancePage, error)
	// InstanceCounts counts instances by status.
	InstanceCounts(ctx context.Context) (map[Status]int, error)
	// InstancePurge deletes a finished instance with its history, inbox and tasks. An unfinished
	// one fails with a *StatusError wrapping ErrWrongStatus.
	InstancePurge(ctx context.Context, id string) error
	// InstancePurgeBatch deletes up to p.Limit finished instances matching p in one transaction
	// and returns how many it deleted; call it until it returns 0.
	InstancePurgeBatch(ctx context.Context, p *InstancePurgeParams) (int, error)

	// HistoryRead returns a page of an instance's history.
	HistoryRead(ctx context.Context, p *HistoryReadParams) ([]HistoryRecord, error)

	// MessageSend puts messages in an instance's inbox (ErrNotFound if there is no instance).
	MessageSend(ctx context.Context, p *MessageSendParams) error

	// OrchestrationLease returns instances with visible inbox messages that are unlocked or whose
	// lock expired, oldest message first, and locks them for p.Owner until p.LockExpiry.
	OrchestrationLease(ctx context.Context, p *OrchestrationLeaseParams) ([]*Instance, error)
	// OrchestrationOwned returns instances locked by owner that have visible inbox messages.
	OrchestrationOwned(ctx context.Context, owner string, now time.Time, limit int) ([]*Instance, error)
	// OrchestrationInbox returns up to limit visible inbox messages of an instance, oldest first.
	OrchestrationInbox(ctx context.Context, instanceID string, now time.Time, limit int) ([]*Message, error)
	// OrchestrationCommit applies one orchestration step atomically (see the params).
	OrchestrationCommit(ctx context.Context, p *OrchestrationCommitParams) error
	// OrchestrationCommitAsync queues one orchestration step and returns at once; the channel
	// receives what OrchestrationCommit would return. Steps queued one after another by one
	// goroutine are applied in that order, so a caller can queue step k+1 before step k has
	// landed (a failed step k fails step k+1 through its history length check).
	OrchestrationCommitAsync(ctx context.Context, p *OrchestrationCommitParams) <-chan error
	// OrchestrationRelease releases owner's locks on the instances (all of them when ids is nil).
	OrchestrationRelease(ctx context.Context, owner string, ids []string) error
	// OrchestrationRenew extends every lock owner holds to expiry.
	OrchestrationRenew(ctx context.Context, owner string, expiry time.Time) error
	// OrchestrationNextVisible returns the earliest time after now at which an instance becomes
	// ready: the visibility time of its earliest message. A delayed message behind one that is
	// visible already is not seen until that one is consumed. False when there is none.
	OrchestrationNextVisible(ctx context.Context, now time.Time) (time.Time, bool, error)

	// TaskLease leases tasks that are not leased or whose lease expired, oldest first.
	TaskLease(ctx context.Context, p *TaskLeaseParams) ([]*Task, error)
	// TaskRenew extends leases owner holds and returns the ones it no longer holds.
	TaskRenew(ctx context.Context, owner string, leases []TaskLease, expiry time.Time) (lost []TaskKey, err error)
	// TaskComplete completes a task (see the params); ErrLeaseLost when the caller does not hold
	// its latest lease (another delivery completed it or holds it now).
	TaskComplete(ctx context.Context, p *TaskCompleteParams) error
	// TaskAbandon releases leases so the tasks can be leased again at once (nil: all of owner's).
	TaskAbandon(ctx context.Context, owner string, leases []TaskLease) error
}

// Effects are writes that ride along with a blob put, a queue poison notice or an event
// publication, in the same transaction: messages to instances' inboxes (built-in event handlers)
// and deliveries to the event outbox (webhooks and other asynchronous destinations).
type Effects struct {
	Messages   []*Message
	Deliveries []*DeliveryCreate
}

// Empty reports whether there is nothing to write.
func (e *Effects) Empty() bool { return e == nil || len(e.Messages) == 0 && len(e.Deliveries) == 0 }

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Container   string
	Name        string
	Size        int64
	ContentType string
	ETag        string
	CreatedAt   time.Time
	// FilePath is where the content lives when it is kept in a file instead of in the store;
	// empty for inline content.
	FilePath string
}

// BlobPutParams writes a blob, replacing any blob of that name, and its effects atomically.
type BlobPutParams struct {
	Info BlobInfo
	// Data is the content when it is stored inline (Info.FilePath empty).
	Data    []byte
	Effects Effects
}

// BlobListParams pages through a container's blobs in name order.
type BlobListParams struct {
	Container string
	Prefix    string
	// Marker continues after the blob of that name; empty starts at the beginning.
	Marker string
	Limit  int
}

// BlobPage is a page of BlobList; Next is empty on the last page, and a page is never empty
// while Next is set.
type BlobPage struct {
	Blobs []*BlobInfo
	Next  string
}

// QueueMessage is a message in a queue.
type QueueMessage struct {
	Queue string
	ID    string
	// PopReceipt is set by a dequeue or an update; it must be presented to delete or update the
	// message and changes with every dequeue and update.
	PopReceipt   string
	Body         []byte
	InsertedAt   time.Time
	ExpiresAt    time.Time // zero: never
	VisibleAt    time.Time
	DequeueCount int
	// LastError is what the last consumer reported when it gave the message back.
	LastError string
}

// QueueEnqueueParams adds messages to a queue.
type QueueEnqueueParams struct {
	Queue    string
	Messages []*QueueMessage // ID, Body, InsertedAt, VisibleAt, ExpiresAt are used
}

// QueueDequeueParams takes up to Limit visible messages, oldest first, and hides them until
// VisibleUntil, giving each a new pop receipt and incrementing its dequeue count. A message that
// would be dequeued for the (MaxDequeueCount+1)th time is moved to PoisonQueue instead (when
// MaxDequeueCount > 0), in the same transaction, and returned in the poisoned list; moved
// messages wait for QueuePoisonNotify. Expired messages are deleted.
type QueueDequeueParams struct {
	Queue           string
	Now             time.Time
	VisibleUntil    time.Time
	Limit           int
	MaxDequeueCount int
	PoisonQueue     string
}

// QueueUpdateParams changes an invisible message held with PopReceipt: its visibility, and
// optionally its body and last error. It returns the new pop receipt. UndoDequeue takes back
// the delivery's count (never below 0): the consumer gives the message back unstarted.
type QueueUpdateParams struct {
	Queue       string
	ID          string
	PopReceipt  string
	VisibleAt   time.Time
	Body        []byte // nil keeps the body
	LastError   *string
	UndoDequeue bool
}

// WorkItemCompleteParams finishes work items of a queue in one transaction: the batched
// completion of orca's own workers. For each item held with its pop receipt, the message is
// deleted, the output blob written with its effects (the BlobCreated routing) and the input
// blob deleted, all or nothing per item and all items in one commit. An item whose pop receipt
// is no longer its message's (ErrLeaseLost) or whose message is gone (ErrNotFound) changes
// nothing and says so in its outcome; the other items commit all the same.
type WorkItemCompleteParams struct {
	Queue string
	Items []*WorkItemDone
}

// WorkItemDone is one item of WorkItemComplete.
type WorkItemDone struct {
	MessageID  string
	PopReceipt string
	// Output, when set, is written as BlobPut writes it, with its effects.
	Output *BlobPutParams
	// DeleteInput, when set, names a blob to delete with the message; a missing one is no error.
	DeleteInput *BlobRef
}

// BlobRef names a blob.
type BlobRef struct {
	Container string
	Name      string
}

// WorkItemOutcome is what WorkItemComplete did with one item.
type WorkItemOutcome struct {
	// Err is nil when the item committed; ErrLeaseLost or ErrNotFound (wrapped) when it
	// changed nothing.
	Err error
	// InsertedAt is when the item's message was enqueued (what the item latency metric
	// measures from).
	InsertedAt time.Time
	// Replaced is the output blob the put replaced, Deleted the input blob deleted (each nil
	// when there was none), so their files can be removed.
	Replaced *BlobInfo
	Deleted  *BlobInfo
}

// QueueStats describes a queue at a moment.
type QueueStats struct {
	Queue string
	// Visible messages can be dequeued now; Invisible are in flight or delayed. Azure's
	// approximate message count is their sum.
	Visible   int
	Invisible int
}

// QueuePoisonNotifyParams marks messages moved to a poison queue as reported and writes the
// effects of the report, atomically.
type QueuePoisonNotifyParams struct {
	Queue   string // the poison queue
	IDs     []string
	Effects Effects
	// Now is the caller's current time (see Message.VisibleAt).
	Now time.Time
	// Fence, when set, makes the report a leader's: it commits only while the role's lease
	// still carries that fence, else it fails with ErrLeaseLost (see LeaderAcquire).
	Fence *LeaderFence
}

// LeaderLease is the lease of a role that one process of a task hub plays at a time (the
// singletons: the poison sweeper, and whatever must not run twice). Fence grows by one each time
// the lease changes hands, so a write fenced with an older value is refused.
type LeaderLease struct {
	Role   string
	Holder string
	Fence  int64
	Expiry time.Time
}

// LeaderAcquireParams takes or renews a role's lease: it is granted to Holder until Expiry when
// no one holds it, when its lease expired at Now, or when Holder holds it already (a renewal,
// which keeps the fence).
type LeaderAcquireParams struct {
	Role   string
	Holder string
	Now    time.Time
	Expiry time.Time
}

// LeaderFence names the lease a fenced write relies on.
type LeaderFence struct {
	Role  string
	Fence int64
}

// DeliveryCreate is a new entry of the event outbox: one event for one subscription.
type DeliveryCreate struct {
	Subscription string
	EventID      string
	// Event is the event in orca's internal form (Event Grid schema JSON).
	Event     []byte
	NotBefore time.Time
	ExpiresAt time.Time
}

// Delivery is an outbox entry.
type Delivery struct {
	ID           int64
	Subscription string
	EventID      string
	Event        []byte
	Attempts     int
	NextAttempt  time.Time
	ExpiresAt    time.Time
	LastError    string
	CreatedAt    time.Time
	LockOwner    string
	LockExpiry   time.Time
}

// DeliveryLeaseParams leases due outbox entries.
type DeliveryLeaseParams struct {
	Owner      string
	Now        time.Time
	LockExpiry time.Time
	Limit      int
}

// DeliveryRetryParams gives a delivery back after a failed attempt.
type DeliveryRetryParams struct {
	ID          int64
	Owner       string
	NextAttempt time.Time
	LastError   string
}

// DeliveryDeadLetterParams moves a delivery that ran out of attempts or time to the dead-letter
// list.
type DeliveryDeadLetterParams struct {
	ID     int64
	Owner  string
	Reason string
	At     time.Time
}

// DeadLetter is a delivery that was given up.
type DeadLetter struct {
	ID           int64
	Subscription string
	EventID      string
	Event        []byte
	Attempts     int
	Reason       string
	At           time.Time
}

// EventPublishParams writes the effects of an event that arrived from outside (ingestion),
// once: when EventID was already published, nothing is written and duplicate is true.
type EventPublishParams struct {
	EventID string
	// SeenUntil is how long the event id is remembered for deduplication.
	SeenUntil time.Time
	Now       time.Time
	Effects   Effects
}

// SubscriptionRecord is a stored event subscription; the events package owns its JSON form.
type SubscriptionRecord struct {
	Name      string
	Spec      []byte
	UpdatedAt time.Time
}

// ComputeBackend is the compute plane's part of the store: blobs, queues and the event outbox.
// They live in the same store as the orchestrations so that a blob put and the events it causes,
// or a poison move and its report, are one transaction.
type ComputeBackend interface {
	// BlobPut writes a blob and its effects; it returns the blob it replaced, if any (so its file
	// can be removed).
	BlobPut(ctx context.Context, p *BlobPutParams) (replaced *BlobInfo, err error)
	// BlobGet returns a blob and its inline content (nil when it lives in a file).
	BlobGet(ctx context.Context, container, name string) (*BlobInfo, []byte, error)
	// BlobHead returns a blob's description.
	BlobHead(ctx context.Context, container, name string) (*BlobInfo, error)
	// BlobDelete deletes a blob and returns what it deleted (ErrNotFound if nothing).
	BlobDelete(ctx context.Context, container, name string) (*BlobInfo, error)
	// BlobList pages through blobs.
	BlobList(ctx context.Context, p *BlobListParams) (*BlobPage, error)

	// QueueEnqueue adds messages.
	QueueEnqueue(ctx context.Context, p *QueueEnqueueParams) error
	// QueueDequeue takes messages (see the params).
	QueueDequeue(ctx context.Context, p *QueueDequeueParams) (msgs, poisoned []*QueueMessage, err error)
	// QueueDelete deletes a message and returns when it was inserted (what the item latency
	// metric measures from); ErrNotFound when there is none, ErrLeaseLost when popReceipt is not
	// its current one.
	QueueDelete(ctx context.Context, queue, id, popReceipt string) (insertedAt time.Time, err error)
	// QueueUpdate changes a message (see the params); errors as QueueDelete.
	QueueUpdate(ctx context.Context, p *QueueUpdateParams) (popReceipt string, err error)
	// QueuePeek returns up to limit visible messages without dequeuing them.
	QueuePeek(ctx context.Context, queue string, now time.Time, limit int) ([]*QueueMessage, error)
	// QueueStats counts the unexpired messages of the queues that have any, or of the named ones.
	QueueStats(ctx context.Context, now time.Time, queues ...string) ([]QueueStats, error)
	// QueueNextVisible returns when the next delayed or in-flight message of a queue becomes
	// visible; false when there is none.
	QueueNextVisible(ctx context.Context, queue string, now time.Time) (time.Time, bool, error)
	// QueuePoisonUnreported returns messages moved to poison queues and not yet reported.
	QueuePoisonUnreported(ctx context.Context, limit int) ([]*QueueMessage, error)
	// QueuePoisonNotify reports poisoned messages (see the params).
	QueuePoisonNotify(ctx context.Context, p *QueuePoisonNotifyParams) error
	// WorkItemComplete finishes work items in one transaction (see the params); it returns one
	// outcome per item, in order. An error means nothing was written.
	WorkItemComplete(ctx context.Context, p *WorkItemCompleteParams) ([]WorkItemOutcome, error)

	// EventPublish writes an ingested event's effects once per event id.
	EventPublish(ctx context.Context, p *EventPublishParams) (duplicate bool, err error)
	// DeliveryLease leases outbox entries that are due and unleased or whose lease expired.
	DeliveryLease(ctx context.Context, p *DeliveryLeaseParams) ([]*Delivery, error)
	// DeliveryDone deletes a delivered entry; ErrLeaseLost when owner does not hold it.
	DeliveryDone(ctx context.Context, id int64, owner string) error
	// DeliveryRetry releases an entry for a later attempt, counting the attempt.
	DeliveryRetry(ctx context.Context, p *DeliveryRetryParams) error
	// DeliveryDeadLetter moves an entry to the dead-letter list.
	DeliveryDeadLetter(ctx context.Context, p *DeliveryDeadLetterParams) error
	// DeliveryStats counts pending outbox entries and dead letters per subscription.
	DeliveryStats(ctx context.Context) (pending, dead map[string]int, err error)
	// DeadLetterList returns dead letters, newest first, up to limit (all subscriptions when
	// subscription is empty).
	DeadLetterList(ctx context.Context, subscription string, limit int) ([]*DeadLetter, error)

	// SubscriptionPut creates or replaces a subscription.
	SubscriptionPut(ctx context.Context, s *SubscriptionRecord) error
	// SubscriptionList returns every subscription by name.
	SubscriptionList(ctx context.Context) ([]*SubscriptionRecord, error)
	// SubscriptionDelete deletes a subscription and its pending deliveries (ErrNotFound if none).
	SubscriptionDelete(ctx context.Context, name string) error
}
