package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Defaults of KVOptions.
const (
	DefaultBucket = "HINDSIGHT_LEASES"
	DefaultTTL    = 15 * time.Second
)

// validTask is what a JetStream key-value key may hold.
var validTask = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

// KVOptions configure KV.
type KVOptions struct {
	// Bucket is the key-value bucket holding the leases, one key per
	// task; created if missing.
	Bucket string
	// Replicas is the bucket's replication factor when it is created
	// (log.replicas).
	Replicas int
	// TTL is how long a lease lasts unless renewed (default 15s, at
	// least 1s). It is renewed every TTL/3; the holder stops owning a
	// task TTL*4/5 after its last successful renewal was sent, and the
	// bucket forgets the lease TTL after it was written, so that no two
	// replicas own a task at once while their clocks run at the same
	// rate to within a fifth.
	TTL time.Duration
	// Holder names this instance in the bucket (default: host name and a
	// random suffix); operators see it with `nats kv get`.
	Holder string
	// Tasks are contended for from the start. A task first asked about
	// by Owns is added then (and Owns answers false until it is held).
	Tasks []string
}

// lease is this instance's view of one task.
type lease struct {
	rev   uint64    // revision of our value in the bucket; 0 when not held
	until time.Time // when we stop owning it without a renewal
}

// KV holds leases on a JetStream key-value bucket, one key per task whose
// value names the holder. Run does the work; Owns only reads, and
// without Run nothing is ever owned.
//
// Handover: a holder that stops releases its leases and another replica
// takes them at once (it watches the bucket); a holder that dies, or is
// cut off from the cluster, stops owning TTL*4/5 after its last renewal
// and another replica takes over within TTL plus a renewal period
// (TTL/3) of it. Holder names must be unique among the replicas.
type KV struct {
	js     jetstream.JetStream
	o      KVOptions
	logger *slog.Logger

	mu     sync.Mutex
	leases map[string]*lease
	wake   chan struct{}
	ready  chan struct{}

	held    *prometheus.GaugeVec
	changes *prometheus.CounterVec
}

var _ Owner = (*KV)(nil)

// NewKV prepares leases on the cluster nc is connected to. It does not
// touch the cluster: Run creates the bucket and contends.
func NewKV(nc *nats.Conn, o KVOptions, logger *slog.Logger, reg prometheus.Registerer) (*KV, error) {
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < time.Second {
		return nil, fmt.Errorf("lease TTL %s: at least 1s", o.TTL)
	}
	if o.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Holder = host + "-" + hex.EncodeToString(b[:])
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	k := &KV{
		js:     js,
		o:      o,
		logger: logger,
		leases: map[string]*lease{},
		wake:   make(chan struct{}, 1),
		ready:  make(chan struct{}),
	}
	for _, t := range o.Tasks {
		if !validTask.MatchString(t) {
			return nil, fmt.Errorf("lease task %q: only letters, digits and -/_=. are allowed", t)
		}
		k.leases[t] = &lease{}
	}
	f := promauto.With(reg)
	k.held = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hindsight_lease_held",
		Help: "Whether this replica holds the lease of a timer-driven task (1) or not (0).",
	}, []string{"task"})
	k.changes = f.NewCounterVec(prometheus.CounterOpts{
		Name: "hindsight_lease_changes_total",
		Help: "Leases of timer-driven tasks this replica acquired, lost (not renewed in time, or taken over) or released.",
	}, []string{"task", "change"})
	for t := range k.leases {
		k.initMetrics(t)
	}
	return k, nil
}

func (k *KV) initMetrics(task string) {
	k.held.WithLabelValues(task).Set(0)
	for _, c := range []string{"acquired", "lost", "released"} {
		k.changes.WithLabelValues(task, c)
	}
}

// Ready is closed once Run has the bucket and contends for leases.
func (k *KV) Ready() <-chan struct{} { return k.ready }

// Holder is the name this instance holds leases under.
func (k *KV) Holder() string { return k.o.Holder }

// Owns implements Owner.
func (k *KV) Owns(task string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.leases[task]
	if l == nil {
		if !validTask.MatchString(task) {
			return false
		}
		k.leases[task] = &lease{}
		k.initMetrics(task)
		select {
		case k.wake <- struct{}{}:
		default:
		}
		return false
	}
	return l.rev > 0 && time.Now().Before(l.until)
}

// record is the value a lease holds in the bucket.
type record struct {
	Holder    string    `json:"holder"`
	RenewedAt time.Time `json:"renewed_at"`
}

// Run creates the bucket if needed, then acquires and renews leases until
// ctx ends, when it releases the leases it holds so that another replica
// takes over at once. It returns nil when ctx ends.
func (k *KV) Run(ctx context.Context) error {
	kv, err := k.bucket(ctx)
	if err != nil {
		return nil // ctx ended
	}
	close(k.ready)
	// Watch the bucket: a released lease is taken at once, not at the
	// next tick.
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { k.watch(wctx, kv) })
	defer func() {
		stop()
		wg.Wait()
	}()
	tick := time.NewTicker(k.o.TTL / 3)
	defer tick.Stop()
	for {
		k.round(ctx, kv)
		select {
		case <-ctx.Done():
			k.releaseAll(kv)
			return nil
		case <-tick.C:
		case <-k.wake:
		}
	}
}

// bucket opens or creates the bucket, retrying until ctx ends.
func (k *KV) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	backoff := 100 * time.Millisecond
	for {
		// Short attempts: a create racing another replica's can hang
		// until the cluster settles, and the next lookup then finds it.
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		kv, err := k.js.KeyValue(cctx, k.o.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = k.js.CreateKeyValue(cctx, jetstream.KeyValueConfig{
				Bucket:      k.o.Bucket,
				Description: "Hindsight: which replica does each timer-driven task",
				TTL:         k.o.TTL,
				History:     1,
				Storage:     jetstream.FileStorage,
				Replicas:    k.o.Replicas,
			})
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = k.js.KeyValue(cctx, k.o.Bucket)
			}
		}
		cancel()
		if err == nil {
			if st, serr := kv.Status(ctx); serr == nil && st.TTL() != k.o.TTL {
				k.logger.Warn("Lease bucket has another TTL than this replica; leases follow the bucket's", "bucket", k.o.Bucket, "bucket_ttl", st.TTL(), "ttl", k.o.TTL)
			}
			return kv, nil
		}
		k.logger.Warn("Lease bucket not reachable; retrying", "bucket", k.o.Bucket, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (k *KV) watch(ctx context.Context, kv jetstream.KeyValue) {
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil || e.Operation() == jetstream.KeyValuePut {
				continue
			}
			select {
			case k.wake <- struct{}{}:
			default:
			}
		}
		_ = w.Stop()
	}
}

// round renews the leases held and tries to acquire the others.
func (k *KV) round(ctx context.Context, kv jetstream.KeyValue) {
	k.mu.Lock()
	tasks := make(map[string]uint64, len(k.leases))
	for t, l := range k.leases {
		tasks[t] = l.rev
	}
	k.mu.Unlock()
	for task, rev := range tasks {
		k.step(ctx, kv, task, rev)
	}
}

// step renews or acquires one lease.
func (k *KV) step(ctx context.Context, kv jetstream.KeyValue, task string, rev uint64) {
	ctx, cancel := context.WithTimeout(ctx, k.o.TTL/3)
	defer cancel()
	sent := time.Now()
	val, _ := json.Marshal(record{Holder: k.o.Holder, RenewedAt: sent.UTC()})
	if rev > 0 {
		nrev, err := kv.Update(ctx, task, val, rev)
		switch {
		case err == nil:
			k.set(task, nrev, sent)
			return
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			// Expired, or taken over, or our last renewal landed but its
			// answer did not reach us.
			if k.adopt(ctx, kv, task, val, sent) {
				return
			}
			k.lost(task, "lease expired or was taken over")
		default:
			if k.expired(task) {
				k.lost(task, "lease not renewed in time: "+err.Error())
			}
			return
		}
	}
	nrev, err := kv.Create(ctx, task, val)
	switch {
	case err == nil:
		k.set(task, nrev, sent)
		k.changes.WithLabelValues(task, "acquired").Inc()
		k.logger.Info("Lease acquired: this replica does the task", "task", task, "holder", k.o.Holder)
	case errors.Is(err, jetstream.ErrKeyExists):
		// Held by another replica, or still by this one under its name.
		if k.adopt(ctx, kv, task, val, sent) {
			k.changes.WithLabelValues(task, "acquired").Inc()
		}
	default:
		k.logger.Debug("Lease not acquired", "task", task, "err", err)
	}
}

// adopt renews a lease the bucket says this holder has, at the revision
// the bucket has.
func (k *KV) adopt(ctx context.Context, kv jetstream.KeyValue, task string, val []byte, sent time.Time) bool {
	e, err := kv.Get(ctx, task)
	if err != nil {
		return false
	}
	var r record
	if json.Unmarshal(e.Value(), &r) != nil || r.Holder != k.o.Holder {
		return false
	}
	nrev, err := kv.Update(ctx, task, val, e.Revision())
	if err != nil {
		return false
	}
	k.set(task, nrev, sent)
	return true
}

func (k *KV) set(task string, rev uint64, sent time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.leases[task].rev = rev
	// Counted from when the write was sent, which is before the bucket
	// stamped it: the lease ends here before it ends there.
	k.leases[task].until = sent.Add(k.o.TTL * 4 / 5)
	k.held.WithLabelValues(task).Set(1)
}

func (k *KV) expired(task string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !time.Now().Before(k.leases[task].until)
}

func (k *KV) lost(task, why string) {
	k.mu.Lock()
	was := k.leases[task].rev > 0
	k.leases[task].rev = 0
	k.leases[task].until = time.Time{}
	k.mu.Unlock()
	k.held.WithLabelValues(task).Set(0)
	if was {
		k.changes.WithLabelValues(task, "lost").Inc()
		k.logger.Warn("Lease lost: another replica may do the task", "task", task, "reason", why)
	}
}

// releaseAll deletes the leases held, so that others need not wait for
// them to expire.
func (k *KV) releaseAll(kv jetstream.KeyValue) {
	k.mu.Lock()
	held := map[string]uint64{}
	for t, l := range k.leases {
		if l.rev > 0 {
			held[t] = l.rev
		}
		l.rev, l.until = 0, time.Time{}
	}
	k.mu.Unlock()
	for task, rev := range held {
		k.held.WithLabelValues(task).Set(0)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := kv.Delete(ctx, task, jetstream.LastRevision(rev))
		cancel()
		if err != nil {
			k.logger.Warn("Lease not released; another replica takes it when it expires", "task", task, "err", err)
			continue
		}
		k.changes.WithLabelValues(task, "released").Inc()
		k.logger.Info("Lease released", "task", task)
	}
}
