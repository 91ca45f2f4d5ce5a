package precision

import (
	"errors"

	"github.com/rwkvbench/rwkvbench/model"
)

// OpenSession loads a checkpoint, applies enc (nothing for fp32) and starts a CPU
// engine with the encodings' activation hook. Closing the session closes the models
// it loaded. The bench command and the device agent both open sessions this way, so
// a precision means the same on the host and on a device.
func OpenSession(path string, enc Encodings, threads int) (model.Session, error) {
	m, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	qm, hook, err := Apply(m, enc)
	if err != nil {
		m.Close()
		return nil, err
	}
	owned := []*model.Model{m}
	if qm != m && enc.Float16 {
		// Every tensor was copied: the checkpoint's storage is no longer needed.
		m.Close()
		owned = nil
	}
	eng, err := model.NewEngine(qm, model.Options{Threads: threads, Hook: hook})
	if err != nil {
		for _, o := range owned {
			o.Close()
		}
		return nil, err
	}
	return ownedSession{Engine: eng, models: owned}, nil
}

// ownedSession is an engine with the models it owns.
type ownedSession struct {
	*model.Engine
	models []*model.Model
}

func (s ownedSession) Close() error {
	err := s.Engine.Close()
	for _, m := range s.models {
		err = errors.Join(err, m.Close())
	}
	return err
}
