package sink

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// topicIDFunc reads a topic's ID from Kafka; tests replace it to play a
// broker without topic IDs.
var topicIDFunc = kafka.TopicID

// topicState is the lake's own ID for a topic on a broker that has no
// topic IDs (Kafka before 2.8, some Kafka-compatible brokers), kept in
// _stocklake/sink/<table>/topics/<topic>.json. Object names carry it, so a
// topic re-created with offsets from 0 does not overwrite older objects.
type topicState struct {
	Topic   string    `json:"topic"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// Replaces is the ID this one renewed, when the topic was found
	// re-created.
	Replaces string `json:"replaces,omitempty"`
}

func topicStateKey(table, topic string) string {
	return fmt.Sprintf("_stocklake/sink/%s/topics/%s.json", table, topic)
}

// resolveTopicID returns the ID that names the topic's objects: Kafka's
// topic ID, or, from a broker without topic IDs (which reports the zero
// ID, "0"), the lake's own ID for the topic (see lakeTopicID).
func (s *Sink) resolveTopicID(ctx context.Context, cl *kgo.Client) (string, error) {
	id, err := topicIDFunc(ctx, cl, s.cfg.Topic)
	if err != nil || id != "0" {
		return id, err
	}
	return s.lakeTopicID(ctx, cl)
}

// lakeTopicID returns the topic's ID kept in the lake, creating a random
// one the first time (with a conditional write, so sinks that start
// together agree). It renews the ID when the topic is evidently new: a
// partition's end offset is below what the lake has landed from it under
// the current ID, which happens when the topic was deleted and created
// again. A re-created topic that already holds more records than the old
// one landed cannot be told apart this way; give it a new --table, or
// remove its topics/<topic>.json state, in that case.
func (s *Sink) lakeTopicID(ctx context.Context, cl *kgo.Client) (string, error) {
	key := topicStateKey(s.cfg.Table, s.cfg.Topic)
	for {
		body, ver, err := s.cfg.Store.GetVersion(ctx, key)
		var st topicState
		switch {
		case errors.Is(err, stocklake.ErrNotFound):
			ver = stocklake.IfAbsent
		case err != nil:
			return "", err
		default:
			if err := json.Unmarshal(body, &st); err != nil || st.ID == "" {
				return "", fmt.Errorf("topic state %s is damaged (%v): restore it, or remove it if the topic's objects may be named anew: %w", key, err, stocklake.ErrConfig)
			}
			recreated, err := s.topicRecreated(ctx, cl, st.ID)
			if err != nil {
				return "", err
			}
			if !recreated {
				return st.ID, nil
			}
			s.log.Warn("topic was re-created (its end offsets are below what the lake landed); naming its objects with a new ID", "old_id", st.ID)
		}
		nst := topicState{Topic: s.cfg.Topic, ID: randomTopicID(), Created: time.Now().UTC(), Replaces: st.ID}
		b, _ := json.Marshal(nst)
		if _, err := s.cfg.Store.PutIf(ctx, key, bytes.NewReader(b), ver); err != nil {
			if errors.Is(err, stocklake.ErrPrecondition) {
				continue // another sink wrote it first: use theirs
			}
			return "", err
		}
		s.log.Info("the broker has no topic IDs; using an ID kept in the lake", "topic_id", nst.ID, "state", key)
		return nst.ID, nil
	}
}

// topicRecreated reports whether some partition of the topic ends below
// the offsets the lake landed from it under id, as the manifests record.
func (s *Sink) topicRecreated(ctx context.Context, cl *kgo.Client, id string) (bool, error) {
	prefix := fmt.Sprintf("_stocklake/sink/%s/%s/", s.cfg.Table, id)
	objs, err := s.cfg.Store.List(ctx, prefix)
	if err != nil || len(objs) == 0 {
		return false, err
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, s.cfg.Topic)
	if err != nil {
		return false, err
	}
	if err := ends.Error(); err != nil {
		return false, err
	}
	for _, o := range objs {
		p, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), ".json"), 10, 32)
		if err != nil {
			continue
		}
		body, _, err := s.cfg.Store.GetVersion(ctx, o.Key)
		if err != nil {
			return false, err
		}
		var m manifest
		if err := json.Unmarshal(body, &m); err != nil {
			return false, fmt.Errorf("sink manifest %s: %w: %w", o.Key, err, stocklake.ErrInvalid)
		}
		landed := int64(0)
		for _, b := range m.Batches {
			landed = max(landed, b.Last+1)
		}
		end, ok := ends.Lookup(s.cfg.Topic, int32(p))
		if !ok || end.Offset < landed {
			return true, nil
		}
	}
	return false, nil
}

func randomTopicID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
