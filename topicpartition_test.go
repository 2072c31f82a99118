package stocklake

import (
	"encoding/json"
	"testing"
)

// TestTopicPartitionJSON: offsets by partition encode as a JSON object keyed
// "TOPICID:PARTITION" and decode back, a topic ID with ':' included.
func TestTopicPartitionJSON(t *testing.T) {
	in := map[TopicPartition]int64{{TopicID: "AbC-12", Partition: 0}: 5, {TopicID: "a:b", Partition: 31}: 1 << 40}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"AbC-12:0":5,"a:b:31":1099511627776}` {
		t.Errorf("encoded %s", b)
	}
	var out map[TopicPartition]int64
	if err := json.Unmarshal(b, &out); err != nil || len(out) != 2 || out[TopicPartition{TopicID: "a:b", Partition: 31}] != 1<<40 {
		t.Errorf("decoded %v, %v", out, err)
	}
	for _, bad := range []string{`{"nocolon":1}`, `{"t:x":1}`, `{"t:99999999999":1}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s decoded without an error", bad)
		}
	}
}
