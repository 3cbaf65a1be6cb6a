package loudness

import "math"

// kWeighting is BS.1770's K-weighting filter as two biquads, with the coefficients libebur128
// derives for any sample rate (at 48 kHz they are the standard's own table).
type kWeighting struct {
	b0, b1, b2, a1, a2 float64 // pre-filter: a high shelf, +4 dB above about 1.7 kHz
	c1, c2             float64 // RLB high-pass at 38 Hz (b = 1, -2, 1)
	x1, x2, y1, y2     float64 // the last two inputs and pre-filtered samples
	z1, z2             float64 // the last two K-weighted samples
}

func newKWeighting(rate float64) kWeighting {
	f0, gain, q := 1681.974450955533, 3.999843853973347, 0.7071752369554196
	k := math.Tan(math.Pi * f0 / rate)
	vh := math.Pow(10, gain/20)
	vb := math.Pow(vh, 0.4996667741545416)
	a0 := 1 + k/q + k*k
	f := kWeighting{
		b0: (vh + vb*k/q + k*k) / a0,
		b1: 2 * (k*k - vh) / a0,
		b2: (vh - vb*k/q + k*k) / a0,
		a1: 2 * (k*k - 1) / a0,
		a2: (1 - k/q + k*k) / a0,
	}
	f0, q = 38.13547087602444, 0.5003270373238773
	k = math.Tan(math.Pi * f0 / rate)
	a0 = 1 + k/q + k*k
	f.c1 = 2 * (k*k - 1) / a0
	f.c2 = (1 - k/q + k*k) / a0
	return f
}

// flushDenormals zeroes states too small to matter (far below -300 dB), which digital
// silence would otherwise decay into: subnormal arithmetic is many times slower.
func (f *kWeighting) flushDenormals() {
	for _, v := range []*float64{&f.x1, &f.x2, &f.y1, &f.y2, &f.z1, &f.z2} {
		if math.Abs(*v) < 1e-15 {
			*v = 0
		}
	}
}

// histBins is libebur128's histogram: 0.1 LU bins from -70 LUFS (the absolute gate) to +30.
const histBins = 1000

// binEdge[i] is the mean square where bin i begins, binMid[i] the one it stands for.
var binEdge, binMid = func() (edge [histBins + 1]float64, mid [histBins]float64) {
	for i := range edge {
		edge[i] = meanSquare(Silent + float64(i)/10)
	}
	for i := range mid {
		mid[i] = meanSquare(Silent + 0.05 + float64(i)/10)
	}
	return edge, mid
}()

// histogram counts blocks by loudness, as libebur128's histogram mode does: fixed memory
// however long the talk, at the price of 0.1 LU steps.
type histogram [histBins]uint64

// bin is the bin of mean square z (at least binEdge[0]); louder than +30 LUFS is the last.
func bin(z float64) int {
	lo, hi := 0, histBins
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if z >= binEdge[mid] {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// add counts a block of mean square z, unless the absolute gate (-70 LUFS) drops it.
func (h *histogram) add(z float64) {
	if z >= binEdge[0] {
		h[bin(z)]++
	}
}

// from is the first bin at or above the relative gate: rel times the mean of all blocks.
// ok is false when there is no block at all.
func (h *histogram) from(rel float64) (first int, ok bool) {
	var n uint64
	var sum float64
	for i, c := range h {
		n += c
		sum += float64(c) * binMid[i]
	}
	if n == 0 {
		return 0, false
	}
	gate := rel * sum / float64(n)
	if gate < binEdge[0] {
		return 0, true
	}
	first = bin(gate)
	if gate > binMid[first] {
		first++
	}
	return first, true
}

// gated is the loudness of the blocks above the relative gate (BS.1770-4's integrated
// loudness with rel 0.1), -Inf if there are none.
func (h *histogram) gated(rel float64) float64 {
	first, ok := h.from(rel)
	if !ok {
		return math.Inf(-1)
	}
	var n uint64
	var sum float64
	for i := first; i < histBins; i++ {
		n += h[i]
		sum += float64(h[i]) * binMid[i]
	}
	if n == 0 {
		return math.Inf(-1)
	}
	return fromMeanSquare(sum / float64(n))
}

// spread is EBU Tech 3342's loudness range: from the 10th to the 95th percentile of the
// short-term windows above the relative gate (20 LU down), picked as libebur128 picks them.
func (h *histogram) spread() float64 {
	first, ok := h.from(0.01)
	if !ok {
		return 0
	}
	var n uint64
	for i := first; i < histBins; i++ {
		n += h[i]
	}
	if n == 0 {
		return 0
	}
	low, high := uint64(float64(n-1)*0.1+0.5), uint64(float64(n-1)*0.95+0.5)
	var seen uint64
	j := first
	for seen <= low {
		seen += h[j]
		j++
	}
	lowZ := binMid[j-1]
	for seen <= high {
		seen += h[j]
		j++
	}
	return fromMeanSquare(binMid[j-1]) - fromMeanSquare(lowZ)
}
