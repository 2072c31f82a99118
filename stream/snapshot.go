package stream

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/stocklake/stocklake"
)

// Snapshot format: a compact binary encoding, the same bytes for the same
// state. Engine snapshots hold the global watermark state and every
// partition's snapshot; partition snapshots hold everything of one
// partition (symbols sorted by name). Version 1.
const (
	engineMagic     = "SLKE"
	partitionMagic  = "SLKP"
	snapshotVersion = 1
)

// Snapshot appends the engine's whole state to dst and returns it. Restore
// on an Engine with the same Config continues exactly where this one is.
func (e *Engine) Snapshot(dst []byte) []byte {
	dst = append(dst, engineMagic...)
	dst = binary.AppendUvarint(dst, snapshotVersion)
	dst = binary.AppendVarint(dst, e.wm)
	dst = binary.AppendVarint(dst, e.floor)
	dst = binary.AppendVarint(dst, e.rejected)
	dst = binary.AppendUvarint(dst, uint64(len(e.parts)))
	var buf []byte
	for _, p := range e.parts {
		buf = e.appendPartition(buf[:0], p.id)
		dst = binary.AppendUvarint(dst, uint64(len(buf)))
		dst = append(dst, buf...)
	}
	return dst
}

// SnapshotPartition appends the state of one input partition to dst and
// returns it: its symbols' open windows, indicator history and alert
// cooldowns, its maximum event time and the watermark already applied to
// it. A partition without state gives a snapshot that restores to none.
func (e *Engine) SnapshotPartition(dst []byte, partition int32) []byte {
	return e.appendPartition(dst, partition)
}

func appendF64(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func (e *Engine) appendPartition(dst []byte, id int32) []byte {
	var p *partition
	if id >= 0 && int(id) < len(e.byID) {
		p = e.byID[id]
	}
	if p == nil {
		p = &partition{id: id, maxTs: noTime, wm: noTime}
	}
	dst = append(dst, partitionMagic...)
	dst = binary.AppendUvarint(dst, snapshotVersion)
	dst = binary.AppendVarint(dst, int64(p.id))
	dst = binary.AppendVarint(dst, p.maxTs)
	if len(p.syms) > 0 || p.maxTs != noTime {
		dst = binary.AppendVarint(dst, max(p.wm, e.wm))
	} else {
		dst = binary.AppendVarint(dst, noTime)
	}
	dst = binary.AppendVarint(dst, p.ticks)
	dst = binary.AppendVarint(dst, p.late)
	dst = binary.AppendUvarint(dst, uint64(len(e.sizes)))
	for _, w := range e.sizes {
		dst = binary.AppendVarint(dst, w)
	}
	dst = binary.AppendUvarint(dst, uint64(e.cfg.EMAFast))
	dst = binary.AppendUvarint(dst, uint64(e.cfg.EMASlow))
	syms := make([]*symbol, 0, len(p.syms))
	for _, s := range p.syms {
		syms = append(syms, s)
	}
	slices.SortFunc(syms, byName)
	dst = binary.AppendUvarint(dst, uint64(len(syms)))
	for _, s := range syms {
		dst = appendString(dst, s.name)
		dst = binary.AppendVarint(dst, s.ticks)
		dst = binary.AppendVarint(dst, s.late)
		dst = appendBool(dst, s.hasLast)
		dst = appendF64(dst, s.last)
		var fired int
		for _, t := range s.fired {
			if t != noTime {
				fired++
			}
		}
		dst = binary.AppendUvarint(dst, uint64(fired))
		for ri, t := range s.fired {
			if t != noTime {
				dst = appendString(dst, e.rules[ri].Name)
				dst = binary.AppendVarint(dst, t)
			}
		}
		for i := range s.series {
			sr := &s.series[i]
			dst = binary.AppendUvarint(dst, uint64(len(sr.open)))
			for k := range sr.open {
				w := &sr.open[k]
				dst = binary.AppendVarint(dst, w.start)
				for _, f := range [...]float64{w.open, w.close, w.high, w.low, w.vol, w.volErr, w.pv, w.pvErr} {
					dst = appendF64(dst, f)
				}
				dst = binary.AppendVarint(dst, w.first)
				dst = binary.AppendVarint(dst, w.last)
				dst = appendString(dst, w.openID)
				dst = appendString(dst, w.cloID)
				dst = binary.AppendVarint(dst, w.trades)
				dst = binary.AppendVarint(dst, w.provAt)
				dst = appendBool(dst, w.dirty)
			}
			h := &sr.hist
			held := h.len()
			dst = binary.AppendVarint(dst, h.n)
			dst = binary.AppendUvarint(dst, uint64(held))
			for k := held - 1; k >= 0; k-- {
				c, v := h.back(k)
				dst = appendF64(dst, c)
				dst = appendF64(dst, v)
			}
			for _, m := range [...]*ema{&sr.emaF, &sr.emaS} {
				dst = appendBool(dst, m.ok)
				dst = appendF64(dst, m.v)
			}
		}
	}
	return dst
}

// Restore replaces the engine's whole state with a Snapshot. The Config may
// differ from the snapshotting engine's: window sizes missing from the
// snapshot start empty, sizes no longer configured are dropped, cooldowns
// of unknown rules are dropped and EMAs whose period changed are re-seeded.
// A corrupt snapshot returns an error wrapping stocklake.ErrInvalid and
// leaves the engine unchanged.
func (e *Engine) Restore(b []byte) error {
	d := decoder{b: b}
	d.magic(engineMagic)
	wm, floor, rejected := d.varint(), d.varint(), d.varint()
	n := d.count(8)
	var parts []*partition
	seen := map[int32]bool{}
	for range n {
		blob := d.bytes()
		if d.err != nil {
			break
		}
		p, err := e.decodePartition(blob)
		if err != nil {
			return err
		}
		if seen[p.id] {
			d.fail("partition listed twice")
			break
		}
		seen[p.id] = true
		if p.maxTs != noTime || len(p.syms) > 0 {
			parts = append(parts, p)
		}
	}
	d.end()
	if d.err != nil {
		return d.err
	}
	e.byID, e.parts = nil, nil
	e.wm, e.floor, e.rejected = wm, floor, rejected
	for _, p := range parts {
		e.install(p)
	}
	e.minMax = e.computeMin()
	e.next = e.computeNext()
	return nil
}

// RestorePartition replaces one partition's state with a SnapshotPartition
// (of an engine with any partitions) and returns the partition number. The
// engine's watermark does not move back; the partition's windows that were
// already closed stay closed. Restoring the snapshot of a partition without
// state removes the partition's state.
func (e *Engine) RestorePartition(b []byte) (int32, error) {
	p, err := e.decodePartition(b)
	if err != nil {
		return 0, err
	}
	e.RemovePartition(p.id)
	if p.maxTs != noTime || len(p.syms) > 0 {
		e.install(p)
	}
	e.minMax = e.computeMin()
	e.next = e.computeNext()
	return p.id, nil
}

// install adds a decoded partition and rebuilds its close queues.
func (e *Engine) install(p *partition) {
	if int(p.id) >= len(e.byID) {
		e.byID = append(e.byID, make([]*partition, int(p.id)+1-len(e.byID))...)
	}
	e.byID[p.id] = p
	i, _ := slices.BinarySearchFunc(e.parts, p.id, func(p *partition, id int32) int { return int(p.id) - int(id) })
	e.parts = slices.Insert(e.parts, i, p)
	p.queues = make([]queue, len(e.sizes))
	names := make([]string, 0, len(p.syms))
	for name := range p.syms {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := p.syms[name]
		for i := range s.series {
			for _, w := range s.series[i].open {
				end := w.start + e.sizes[i]
				e.register(p, i, end, s, end <= p.wm)
			}
		}
	}
}

func (e *Engine) decodePartition(b []byte) (*partition, error) {
	d := decoder{b: b}
	d.magic(partitionMagic)
	id := d.varint()
	if d.err == nil && (id < 0 || id >= MaxPartitions) {
		d.fail("partition number out of range")
	}
	p := &partition{id: int32(id), syms: map[string]*symbol{}}
	p.maxTs, p.wm, p.ticks, p.late = d.varint(), d.varint(), d.varint(), d.varint()
	nsizes := d.count(1)
	if nsizes > 64 {
		d.fail("too many window sizes")
	}
	sizeMap := make([]int, nsizes)     // snapshot size index -> engine size index, or -1
	snapSizes := make([]int64, nsizes) // µs
	for k := range sizeMap {
		w := d.varint()
		if w <= 0 {
			d.fail("bad window size")
			w = 1
		}
		sizeMap[k], snapSizes[k] = slices.Index(e.sizes, w), w
	}
	emaFast, emaSlow := d.uvarint(), d.uvarint()
	sameFast, sameSlow := emaFast == uint64(e.cfg.EMAFast), emaSlow == uint64(e.cfg.EMASlow)
	ruleIdx := make(map[string]int32, len(e.rules))
	for i, r := range e.rules {
		ruleIdx[r.Name] = int32(i)
	}
	nsyms := d.count(16)
	prev := ""
	for k := range nsyms {
		name := d.str()
		if d.err != nil {
			break
		}
		if name == "" || k > 0 && name <= prev {
			d.fail("symbols not sorted")
			break
		}
		prev = name
		s := e.newSymbol(p, name)
		s.ticks, s.late = d.varint(), d.varint()
		s.hasLast, s.last = d.bool(), d.f64()
		nf := d.count(2)
		for range nf {
			rule, t := d.str(), d.varint()
			if ri, ok := ruleIdx[rule]; ok && s.fired != nil {
				s.fired[ri] = t
			}
		}
		for si := range nsizes {
			var sr series
			nopen := d.count(64)
			for range nopen {
				w := window{start: d.varint()}
				for _, f := range [...]*float64{&w.open, &w.close, &w.high, &w.low, &w.vol, &w.volErr, &w.pv, &w.pvErr} {
					*f = d.f64()
				}
				w.first, w.last = d.varint(), d.varint()
				w.openID, w.cloID = d.str(), d.str()
				w.trades, w.provAt, w.dirty = d.varint(), d.varint(), d.bool()
				if d.err != nil {
					break
				}
				if w.trades <= 0 || w.first > w.last || w.start%snapSizes[si] != 0 ||
					len(sr.open) > 0 && sr.open[len(sr.open)-1].start >= w.start {
					d.fail("bad window")
					break
				}
				sr.open = append(sr.open, w)
			}
			hn := d.varint()
			held := d.count(16)
			if d.err == nil && hn < int64(held) {
				d.fail("bad history")
			}
			closes, vols := make([]float64, 0, held), make([]float64, 0, held)
			for range held {
				closes, vols = append(closes, d.f64()), append(vols, d.f64())
			}
			var emas [2]ema
			for j := range emas {
				emas[j].ok, emas[j].v = d.bool(), d.f64()
			}
			ei := sizeMap[si]
			if ei < 0 || d.err != nil {
				continue
			}
			dst := &s.series[ei]
			dst.open = sr.open
			dst.hist.n = hn - int64(held)
			for j := range closes {
				dst.hist.push(closes[j], vols[j])
			}
			if sameFast {
				dst.emaF = emas[0]
			}
			if sameSlow {
				dst.emaS = emas[1]
			}
		}
		if d.err != nil {
			break
		}
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// decoder reads a snapshot; the first problem sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("stream: snapshot is corrupt or from another version (%s); restore another checkpoint or delete it to start over: %w", why, stocklake.ErrInvalid)
	}
	d.b = nil
}

func (d *decoder) magic(m string) {
	if len(d.b) < len(m) || string(d.b[:len(m)]) != m {
		d.fail("bad magic " + strings.TrimSpace(fmt.Sprintf("%q", m)))
		return
	}
	d.b = d.b[len(m):]
	if v := d.uvarint(); d.err == nil && v != snapshotVersion {
		d.fail(fmt.Sprintf("version %d, want %d", v, snapshotVersion))
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) f64() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < 1 || d.b[0] > 1 {
		d.fail("bad bool")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

// count reads a count of items that take at least minSize bytes each.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail("count larger than the data")
		return 0
	}
	return int(n)
}

func (d *decoder) end() {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
}
