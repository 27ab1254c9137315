package samples

import (
	"errors"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

func init() {
	topology.Register(topology.Definition{
		Name: "frauddetect",
		Description: "Flink's fraud-detection walkthrough in event time: alerts on a transaction over 500.00 that " +
			"follows, within one minute, an account's transaction under 1.00.",
		Setup: setupFraudDetect,
	})
}

// Transaction is one input line of frauddetect.
type Transaction struct {
	Account string
	TS      int64 // epoch milliseconds
	Amount  float64
}

// ParseTransaction parses {"account":"a1","ts":…,"amount":12.5}.
func ParseTransaction(line string) (Transaction, error) {
	fields, err := jsonFields(line)
	if err != nil {
		return Transaction{}, err
	}
	var t Transaction
	if t.Account, err = stringField(fields, "account"); err != nil {
		return Transaction{}, err
	}
	if t.TS, err = intField(fields, "ts"); err != nil {
		return Transaction{}, err
	}
	if t.Amount, err = numberField(fields, "amount"); err != nil {
		return Transaction{}, err
	}
	return t, nil
}

// AlertLine formats an alert as frauddetect writes it: the large
// transaction, {"account":…,"ts":…,"amount":…}.
func AlertLine(t Transaction) string {
	return `{"account":` + strconv.Quote(t.Account) + `,"ts":` + strconv.FormatInt(t.TS, 10) +
		`,"amount":` + strconv.FormatFloat(t.Amount, 'f', -1, 64) + `}`
}

// Thresholds of the walkthrough.
const (
	SmallAmount = 1.00
	LargeAmount = 500.00
	FraudWindow = 60_000 // ms: the large transaction must come this soon after the small one
)

// FraudDetect adds the fraud-detection topology to j. Transactions must come
// in timestamp order (monotonous watermarks, one after every record).
func FraudDetect(j *topology.Job, input connectors.Source[string], output connectors.Sink[Transaction],
	bad connectors.Sink[BadRecord]) {
	lines := topology.FromSource(j, "transactions", input).Parallelism(1)
	txs := parseLines(lines, ParseTransaction, bad)
	timed := topology.AssignTimestamps(txs,
		timers.Monotonous(func(t Transaction) int64 { return t.TS }).WithInterval(0)).Parallelism(1)
	alerts := topology.KeyedProcess(topology.KeyBy(timed, func(t Transaction) string { return t.Account }),
		"fraud-detector", &fraudDetector{}).UID("fraud-detector")
	topology.Sink(alerts, "alerts", output).Parallelism(1)
}

// fraudDetector keeps, per account, the time of a small transaction that the
// next one may turn into an alert. The flag goes with the account's next
// transaction, or with an event-time timer one minute after the small one,
// so state does not outlive its use.
type fraudDetector struct {
	small keyspace.ValueState[int64] // timestamp of the last small transaction
	timer keyspace.ValueState[int64] // the cleanup timer registered for it
}

func (f *fraudDetector) Open(ctx *topology.KeyedContext[string]) (err error) {
	if f.small, err = keyspace.NewValueState[string, int64](ctx.State(), "small-transaction"); err != nil {
		return err
	}
	f.timer, err = keyspace.NewValueState[string, int64](ctx.State(), "cleanup-timer")
	return err
}

func (f *fraudDetector) ProcessElement(ctx *topology.KeyedContext[string], t Transaction, out topology.Collector[Transaction]) error {
	if small, ok := f.small.Value(); ok {
		if t.Amount > LargeAmount && t.TS-small <= FraudWindow {
			out.Collect(t)
		}
		f.cleanUp(ctx)
	}
	if t.Amount < SmallAmount {
		f.small.Update(t.TS)
		at := t.TS + FraudWindow
		ctx.RegisterEventTimeTimer(at)
		f.timer.Update(at)
	}
	return nil
}

func (f *fraudDetector) OnTimer(_ *topology.KeyedContext[string], _ int64, _ topology.Collector[Transaction]) error {
	f.small.Clear()
	f.timer.Clear()
	return nil
}

func (f *fraudDetector) cleanUp(ctx *topology.KeyedContext[string]) {
	if at, ok := f.timer.Value(); ok {
		ctx.DeleteEventTimeTimer(at)
	}
	f.small.Clear()
	f.timer.Clear()
}

func setupFraudDetect(fs *pflag.FlagSet) topology.Builder {
	input := fs.String("input", "", "JSON lines {\"account\":…,\"ts\":…,\"amount\":…} in timestamp order (required)")
	output := fs.String("output", "", "file to write alerts to, one JSON line each (required)")
	bad := fs.String("bad-records", "", "file to set unparsable lines aside in; without it a bad line fails the job")
	return func(j *topology.Job) error {
		j.Check(func() error {
			if *input == "" || *output == "" {
				return errors.New("frauddetect needs --input PATH and --output PATH")
			}
			return nil
		})
		in, err := lineInput(*input)
		if err != nil {
			return err
		}
		out, err := lineOutput(*output, AlertLine)
		if err != nil {
			return err
		}
		bads, err := badRecordSink(*bad)
		if err != nil {
			return err
		}
		FraudDetect(j, in, out, bads)
		return nil
	}
}
