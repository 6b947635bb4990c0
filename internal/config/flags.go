package config

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/scaler"
)

// Flags are command-line flags bound to the settings they override. Resolve layers the settings
// in this one place, later winning: the flags' defaults, the file (--config, else $ORCA_CONFIG),
// the ORCA_* environment, the flags given on the command line. A setting the file and the
// environment leave unset takes its flag's default, so a flag's help shows the real default.
type Flags struct {
	path     string
	hasPath  bool
	bindings []binding
}

// binding ties one flag to one setting.
type binding struct {
	flag, field string
	// apply copies the flag's value into the setting when the flag was given or the setting is
	// unset.
	apply func(f *File, given bool)
}

// bind defines a flag with define (a pflag.FlagSet's StringVar, IntVar, …) and ties it to the
// setting field (its name in the file, for errors) that at returns.
func bind[T comparable](fl *Flags, define func(*T, string, T, string), name string, def T, usage, field string, at func(*File) *T) {
	v := new(T)
	define(v, name, def, usage)
	fl.bindings = append(fl.bindings, binding{flag: name, field: field, apply: func(f *File, given bool) {
		var zero T
		if s := at(f); given || *s == zero {
			*s = *v
		}
	}})
}

// Include adds other's flags (the root command's persistent ones) to those Resolve layers.
func (fl *Flags) Include(other *Flags) { fl.bindings = append(fl.bindings, other.bindings...) }

// Node defines the flags of the commands that run a node (orca dev, orca server).
func (fl *Flags) Node(fs *pflag.FlagSet) {
	fl.hasPath = true
	fs.StringVar(&fl.path, "config", "", "configuration file (YAML; default $ORCA_CONFIG)")
	bind(fl, fs.StringVar, "data", ".orca", "data directory (SQLite store and blob files, unless --store/--blob say otherwise)",
		"data", func(f *File) *string { return &f.Data })
	bind(fl, fs.StringVar, "store", "", "store URL: postgres://USER@HOST:PORT/DB for servers sharing a task hub (default: SQLite in --data)",
		"store", func(f *File) *string { return &f.Store })
	bind(fl, fs.StringVar, "blob", "", "blob store URL: s3://BUCKET?endpoint=…, azblob://ACCOUNT, file:///DIR (default: files in --data)",
		"blob", func(f *File) *string { return &f.Blob })
	bind(fl, fs.StringVar, "queue-url", "", "work queue service URL: azqueue://ACCOUNT or azqueue:// for Azure Storage Queue (default: queues in the store)",
		"queueURL", func(f *File) *string { return &f.QueueURL })
	bind(fl, fs.StringVar, "listen", "127.0.0.1:7071", "HTTP address (the Functions host's local port)",
		"listen", func(f *File) *string { return &f.Listen })
	bind(fl, fs.StringVar, "sync", "", "SQLite synchronous setting: FULL (default) or NORMAL",
		"sync", func(f *File) *string { return &f.Sync })
	bind(fl, fs.BoolVar, "insecure", false, "allow listening on a non-loopback address without API keys",
		"insecure", func(f *File) *bool { return &f.Insecure })
	bind(fl, fs.StringVar, "grpc-listen", "127.0.0.1:4001", `serve the Durable Task gRPC protocol (the Durable Task SDKs' workers and clients) on this address ("off": none)`,
		"grpc.listen", func(f *File) *string { return &f.GRPC.Listen })
	bind(fl, fs.StringVar, "grpc-tls-cert", "", "TLS certificate file for --grpc-listen",
		"grpc.tlsCert", func(f *File) *string { return &f.GRPC.TLSCert })
	bind(fl, fs.StringVar, "grpc-tls-key", "", "TLS key file for --grpc-listen",
		"grpc.tlsKey", func(f *File) *string { return &f.GRPC.TLSKey })
	bind(fl, fs.StringVar, "keda-listen", "", "serve KEDA's External Scaler gRPC API on this address (e.g. 0.0.0.0:9090; default: off)",
		"keda.listen", func(f *File) *string { return &f.KEDA.Listen })
	bind(fl, fs.StringVar, "keda-tls-cert", "", "TLS certificate file for --keda-listen",
		"keda.tlsCert", func(f *File) *string { return &f.KEDA.TLSCert })
	bind(fl, fs.StringVar, "keda-tls-key", "", "TLS key file for --keda-listen",
		"keda.tlsKey", func(f *File) *string { return &f.KEDA.TLSKey })
}

// Log defines the logging flags (the root command's persistent flags).
func (fl *Flags) Log(fs *pflag.FlagSet) {
	bind(fl, fs.StringVar, "log-level", "info", "log level: debug, info, warn or error",
		"log.level", func(f *File) *string { return &f.Log.Level })
	bind(fl, fs.StringVar, "log-format", "text", "log format: text or json",
		"log.format", func(f *File) *string { return &f.Log.Format })
}

// Workers defines the flags of a worker: `orca worker`'s, which `orca dev` passes to its own.
func (fl *Flags) Workers(fs *pflag.FlagSet) {
	bind(fl, fs.StringVar, "queue", compute.DefaultQueue, "work queue",
		"compute.queue", func(f *File) *string { return &f.Work.Queue })
	bind(fl, fs.StringVar, "exec", "", `algorithm: an executable and its arguments ("python3 algo.py"), run as --exec-mode says (default: the built-in demo algorithm, the sum of input_data)`,
		"workers.exec", func(f *File) *string { return &f.Workers.Exec })
	bind(fl, fs.StringVar, "exec-mode", ExecPerItem, `how --exec runs: "per-item" (a process per item: input_data JSON on stdin, result JSON on stdout) or "stream" (a long-lived process per slot: a JSON line per item on stdin, a JSON result line on stdout; docs/compute.md)`,
		"workers.execMode", func(f *File) *string { return &f.Workers.ExecMode })
	bind(fl, fs.DurationVar, "exec-timeout", 10*time.Minute, "time limit of one item under --exec",
		"workers.execTimeout", func(f *File) *time.Duration { return &f.Workers.ExecTimeout })
	bind(fl, fs.IntVar, "concurrency", 0, "items processed at once (0: 64 for the built-in algorithm, 2 per CPU under --exec)",
		"workers.concurrency", func(f *File) *int { return &f.Workers.Concurrency })
	bind(fl, fs.IntVar, "batch", 0, "most items one lease takes (0: as many as --concurrency; at most 256)",
		"workers.batch", func(f *File) *int { return &f.Workers.Batch })
	bind(fl, fs.DurationVar, "compute-delay", 0, "time the built-in algorithm takes per item",
		"workers.computeDelay", func(f *File) *time.Duration { return &f.Workers.ComputeDelay })
	bind(fl, fs.DurationVar, "visibility-timeout", 30*time.Second, "lease on a message, renewed while the item is in hand",
		"workers.visibilityTimeout", func(f *File) *time.Duration { return &f.Workers.VisibilityTimeout })
}

// Pool defines the scaling flags of orca dev's worker pool: KEDA's ScaledObject fields, with the
// seeds' values as defaults where they make sense.
func (fl *Flags) Pool(fs *pflag.FlagSet) {
	bind(fl, fs.IntVar, "min-workers", 0, "fewest workers (0: scale to zero when idle)",
		"workers.min", func(f *File) *int { return &f.Workers.Min })
	bind(fl, fs.IntVar, "max-workers", runtime.NumCPU(), "most workers",
		"workers.max", func(f *File) *int { return &f.Workers.Max })
	bind(fl, fs.Int64Var, "target-queue-length", 0, "queue length one worker is meant for (KEDA's queueLength; 0: what one worker holds, --concurrency plus --batch)",
		"workers.targetQueueLength", func(f *File) *int64 { return &f.Workers.TargetQueueLength })
	bind(fl, fs.Int64Var, "activation-queue-length", 0, "the pool is active while the queue holds more messages than this",
		"workers.activationQueueLength", func(f *File) *int64 { return &f.Workers.ActivationQueueLength })
	bind(fl, fs.DurationVar, "polling-interval", scaler.DefaultPollingInterval, "how often the queue length is measured",
		"workers.pollingInterval", func(f *File) *time.Duration { return &f.Workers.PollingInterval })
	bind(fl, fs.DurationVar, "cooldown", scaler.DefaultCooldown, "how long the pool must be inactive before it scales to zero",
		"workers.cooldown", func(f *File) *time.Duration { return &f.Workers.Cooldown })
	bind(fl, fs.DurationVar, "scale-up-period", scaler.DefaultScaleUpPeriod, "the pool grows at most by max(4, 100%) per this period (the HPA's default)",
		"workers.scaleUpPeriod", func(f *File) *time.Duration { return &f.Workers.ScaleUpPeriod })
	// A negative value turns the window off; a zero one takes the default.
	bind(fl, fs.DurationVar, "scale-down-stabilization", scaler.DefaultScaleDownStabilization,
		"scaling in keeps the highest need of this window (the HPA's default; scaling to zero is the cooldown's)",
		"workers.scaleDownStabilization", func(f *File) *time.Duration { return &f.Workers.ScaleDownStabilization })
}

// Resolve layers the settings (see Flags) and validates them; fs is the running command's
// parsed flags. Commands without --config read the flags alone, not the file or the
// environment.
func (fl *Flags) Resolve(fs *pflag.FlagSet) (*File, error) {
	f := &File{}
	if fl.hasPath {
		path := fl.path
		if path == "" {
			path = os.Getenv("ORCA_CONFIG")
		}
		var err error
		if f, err = Load(path); err != nil {
			return nil, err
		}
	}
	for _, b := range fl.bindings {
		b.apply(f, fs.Changed(b.flag))
	}
	f.inheritPoolDefaults()
	if err := f.Validate(); err != nil {
		return nil, fl.nameFlag(fs, err)
	}
	return f, nil
}

// nameFlag says which flag a bad setting came from, when it came from one.
func (fl *Flags) nameFlag(fs *pflag.FlagSet, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	for _, b := range fl.bindings {
		if b.field == e.Field && fs.Changed(b.flag) {
			return &Error{Field: "--" + b.flag, Msg: e.Msg}
		}
	}
	if fl.hasPath {
		return &Error{Field: "configuration: " + e.Field, Msg: e.Msg}
	}
	return err
}

// inheritPoolDefaults gives the file's further pools the workers section's item time limit and
// message lease where they set none, and their Exec mode's default.
func (f *File) inheritPoolDefaults() {
	for i := range f.Pools {
		p := &f.Pools[i].Workers
		if p.ExecMode == "" {
			p.ExecMode = ExecPerItem
		}
		if p.ExecTimeout == 0 {
			p.ExecTimeout = f.Workers.ExecTimeout
		}
		if p.VisibilityTimeout == 0 {
			p.VisibilityTimeout = f.Workers.VisibilityTimeout
		}
	}
}

// Args renders a worker's settings as the flags of a child `orca worker` on queue.
func (w Workers) Args(queue string) []string {
	a := []string{"--queue", queue, "--concurrency", strconv.Itoa(w.Concurrency), "--batch", strconv.Itoa(w.Batch),
		"--visibility-timeout", w.VisibilityTimeout.String()}
	if w.Exec != "" {
		return append(a, "--exec", w.Exec, "--exec-mode", w.ExecMode, "--exec-timeout", w.ExecTimeout.String())
	}
	return append(a, "--compute-delay", w.ComputeDelay.String())
}
