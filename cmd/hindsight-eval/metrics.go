package main

import (
	"cmp"
	"fmt"
	"slices"
)

// Partition assigns items to clusters: item id -> cluster id.
type Partition map[string]string

// PRF is a precision, a recall and their harmonic mean, over N items.
type PRF struct {
	P, R, F1 float64
	N        int
}

func prf(p, r float64, n int) PRF {
	f := 0.0
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return PRF{P: p, R: r, F1: f, N: n}
}

// contingency counts, over the items of gold, how many items each pair of
// (gold cluster, predicted cluster) shares, and the sizes of the clusters.
// An item pred does not place is a cluster of its own.
func contingency(gold, pred Partition) (n map[[2]string]int, gs, ps map[string]int) {
	n, gs, ps = map[[2]string]int{}, map[string]int{}, map[string]int{}
	for it, g := range gold {
		p, ok := pred[it]
		if !ok {
			p = "\x00unplaced:" + it
		}
		n[[2]string{g, p}]++
		gs[g]++
		ps[p]++
	}
	return n, gs, ps
}

// BCubed returns the B-cubed precision, recall and F1 of pred against
// gold, over the items of gold (Amigó et al. 2009; Bagga and Baldwin
// 1998). For each item e, precision(e) is the share of e's predicted
// cluster that is in e's gold cluster and recall(e) the share of e's gold
// cluster that is in e's predicted cluster; both are averaged over items
// and F1 is their harmonic mean. Precision falls when clusters are
// over-merged, recall when they are fragmented. Items pred does not place
// count as singletons. With no items every figure is 0.
func BCubed(gold, pred Partition) PRF {
	if len(gold) == 0 {
		return PRF{}
	}
	n, gs, ps := contingency(gold, pred)
	var bp, br float64
	for k, c := range n {
		// Each of the c items in cell k contributes c/|pred| and c/|gold|.
		bp += float64(c) * float64(c) / float64(ps[k[1]])
		br += float64(c) * float64(c) / float64(gs[k[0]])
	}
	N := float64(len(gold))
	return prf(bp/N, br/N, len(gold))
}

// Pairwise returns the pairwise precision, recall and F1 of pred against
// gold: a true positive is a pair of items together in both. Precision is
// 1 when pred puts no two items together, recall 1 when gold does not.
func Pairwise(gold, pred Partition) PRF {
	if len(gold) == 0 {
		return PRF{}
	}
	n, gs, ps := contingency(gold, pred)
	pairs := func(c int) float64 { return float64(c) * float64(c-1) / 2 }
	var tp, goldPairs, predPairs float64
	for _, c := range n {
		tp += pairs(c)
	}
	for _, c := range gs {
		goldPairs += pairs(c)
	}
	for _, c := range ps {
		predPairs += pairs(c)
	}
	p, r := 1.0, 1.0
	if predPairs > 0 {
		p = tp / predPairs
	}
	if goldPairs > 0 {
		r = tp / goldPairs
	}
	return prf(p, r, len(gold))
}

// Majority maps each cluster of a to the cluster of b that holds most of
// its items (ties go to the smallest cluster id). Items b does not place
// are left out; a cluster with none placed maps to "".
func Majority(a, b Partition) map[string]string {
	count := map[[2]string]int{}
	out := map[string]string{}
	for it, ca := range a {
		if _, ok := out[ca]; !ok {
			out[ca] = ""
		}
		if cb, ok := b[it]; ok {
			count[[2]string{ca, cb}]++
		}
	}
	keys := make([][2]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y [2]string) int {
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		return cmp.Compare(x[1], y[1])
	})
	best := map[string]int{}
	for _, k := range keys {
		if c := count[k]; c > best[k[0]] {
			best[k[0]] = c
			out[k[0]] = k[1]
		}
	}
	return out
}

// Ratio is a count of successes out of a number of cases.
type Ratio struct{ Num, Den int }

// Value is Num/Den, or 0 without cases.
func (r Ratio) Value() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Add returns the sum of two ratios (pooled counts).
func (r Ratio) Add(o Ratio) Ratio { return Ratio{r.Num + o.Num, r.Den + o.Den} }

// String renders "0.83 (10/12)", or "n/a" without cases.
func (r Ratio) String() string {
	if r.Den == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f (%d/%d)", r.Value(), r.Num, r.Den)
}

// HitAtK counts the true incidents that have a cause (causes: true
// incident -> deploy id, "" for none) whose matched predicted incident
// (match: true incident -> predicted incident) ranks that deploy among
// its first k suspects (suspects: predicted incident -> deploy ids, best
// first).
func HitAtK(causes, match map[string]string, suspects map[string][]string, k int) Ratio {
	var r Ratio
	for g, cause := range causes {
		if cause == "" {
			continue
		}
		r.Den++
		s := suspects[match[g]]
		if slices.Contains(s[:min(k, len(s))], cause) {
			r.Num++
		}
	}
	return r
}

// FalseSuspects counts, among the predicted incidents that name a suspect,
// those whose top suspect is not the cause of their matched true incident
// (match: predicted incident -> true incident), including when that
// incident has no cause.
func FalseSuspects(causes, match map[string]string, suspects map[string][]string) Ratio {
	var r Ratio
	for p, s := range suspects {
		if len(s) == 0 {
			continue
		}
		r.Den++
		if g, ok := match[p]; !ok || g == "" || causes[g] != s[0] {
			r.Num++
		}
	}
	return r
}
