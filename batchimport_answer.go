package b24

import "github.com/b24kit/b24/internal/wire"

// batchDecoder decodes a packed request's answer once for its three
// readers: the operating budget's time block, the blocked check and the
// rows. An answer of 50 commands of 20 rows is large, and decoding it three
// times cost a tenth of the import's CPU. One request's attempts run one
// after another, so it needs no lock.
type batchDecoder struct {
	env    *wire.Envelope
	answer *wire.BatchAnswer
	err    error
}

func (d *batchDecoder) decode(env *wire.Envelope) (*wire.BatchAnswer, error) {
	if d.env != env {
		d.env = env
		d.answer, d.err = wire.DecodeBatchAnswer(env.Result)
	}
	return d.answer, d.err
}

func (d *batchDecoder) time(env *wire.Envelope) *ResponseTime { return batchTimeOf(d.decode(env)) }

func (d *batchDecoder) blocked(env *wire.Envelope) bool { return batchBlockedOf(d.decode(env)) }
