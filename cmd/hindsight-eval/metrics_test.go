package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected figures below are worked out by hand in the comments.
func TestClusteringMetrics(t *testing.T) {
	cases := []struct {
		name     string
		gold     Partition
		pred     Partition
		bcubed   PRF
		pairwise PRF
	}{
		{
			name: "perfect",
			gold: Partition{"a": "G1", "b": "G1", "c": "G2"},
			pred: Partition{"a": "X", "b": "X", "c": "Y"},
			// Every item's cluster is exactly its gold cluster.
			bcubed:   PRF{P: 1, R: 1, F1: 1, N: 3},
			pairwise: PRF{P: 1, R: 1, F1: 1, N: 3},
		},
		{
			name: "one item moved",
			// gold {a,b,c} {d,e}; pred {a,b} {c,d,e}
			gold: Partition{"a": "G1", "b": "G1", "c": "G1", "d": "G2", "e": "G2"},
			pred: Partition{"a": "P1", "b": "P1", "c": "P2", "d": "P2", "e": "P2"},
			// B-cubed P: a 1, b 1, c 1/3, d 2/3, e 2/3 -> 11/3 / 5 = 11/15.
			// B-cubed R: a 2/3, b 2/3, c 1/3, d 1, e 1 -> 11/3 / 5 = 11/15.
			bcubed: PRF{P: 11.0 / 15, R: 11.0 / 15, F1: 11.0 / 15, N: 5},
			// Gold pairs ab ac bc de = 4; predicted pairs ab cd ce de = 4;
			// both: ab de = 2.
			pairwise: PRF{P: 0.5, R: 0.5, F1: 0.5, N: 5},
		},
		{
			name: "everything merged",
			// gold {a,b} {c} {d}; pred {a,b,c,d}
			gold: Partition{"a": "G1", "b": "G1", "c": "G2", "d": "G3"},
			pred: Partition{"a": "P", "b": "P", "c": "P", "d": "P"},
			// B-cubed P: a 2/4, b 2/4, c 1/4, d 1/4 -> 6/4 / 4 = 3/8; R 1.
			// F1 = 2 * 3/8 / (11/8) = 6/11.
			bcubed: PRF{P: 3.0 / 8, R: 1, F1: 6.0 / 11, N: 4},
			// Gold pairs 1, predicted 6, both 1: P 1/6, R 1, F1 2/7.
			pairwise: PRF{P: 1.0 / 6, R: 1, F1: 2.0 / 7, N: 4},
		},
		{
			name: "everything apart",
			gold: Partition{"a": "G1", "b": "G1", "c": "G1"},
			pred: Partition{"a": "P1", "b": "P2", "c": "P3"},
			// B-cubed P 1, R 1/3 each, F1 = 2 * 1/3 / (4/3) = 1/2.
			bcubed: PRF{P: 1, R: 1.0 / 3, F1: 0.5, N: 3},
			// No predicted pair: P 1 by convention; 3 gold pairs, none found.
			pairwise: PRF{P: 1, R: 0, F1: 0, N: 3},
		},
		{
			name: "an item the prediction does not place is a singleton",
			gold: Partition{"a": "G1", "b": "G1"},
			pred: Partition{"a": "P1"},
			// As {a} {b}: P 1, R 1/2, F1 2/3.
			bcubed:   PRF{P: 1, R: 0.5, F1: 2.0 / 3, N: 2},
			pairwise: PRF{P: 1, R: 0, F1: 0, N: 2},
		},
		{
			name: "items only in the prediction are ignored",
			gold: Partition{"a": "G1", "b": "G2"},
			pred: Partition{"a": "P1", "b": "P2", "x": "P1"},
			// Only a and b are scored; x is no item of gold.
			bcubed:   PRF{P: 1, R: 1, F1: 1, N: 2},
			pairwise: PRF{P: 1, R: 1, F1: 1, N: 2},
		},
		{
			name:     "no items",
			gold:     Partition{},
			pred:     Partition{"a": "P"},
			bcubed:   PRF{},
			pairwise: PRF{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requirePRF(t, tc.bcubed, BCubed(tc.gold, tc.pred), "B-cubed")
			requirePRF(t, tc.pairwise, Pairwise(tc.gold, tc.pred), "pairwise")
		})
	}
}

func requirePRF(t *testing.T, want, got PRF, what string) {
	t.Helper()
	require.InDelta(t, want.P, got.P, 1e-9, "%s precision", what)
	require.InDelta(t, want.R, got.R, 1e-9, "%s recall", what)
	require.InDelta(t, want.F1, got.F1, 1e-9, "%s F1", what)
	require.Equal(t, want.N, got.N, "%s items", what)
}

// TestBCubedIsSymmetric: swapping gold and prediction swaps precision and
// recall.
func TestBCubedIsSymmetric(t *testing.T) {
	gold := Partition{"a": "G1", "b": "G1", "c": "G1", "d": "G2", "e": "G3"}
	pred := Partition{"a": "P1", "b": "P2", "c": "P2", "d": "P2", "e": "P3"}
	x, y := BCubed(gold, pred), BCubed(pred, gold)
	require.InDelta(t, x.P, y.R, 1e-12)
	require.InDelta(t, x.R, y.P, 1e-12)
}

func TestMajority(t *testing.T) {
	a := Partition{"x": "A", "y": "A", "z": "B", "w": "C"}
	b := Partition{"x": "P", "y": "Q", "z": "Q"}
	// A: P 1, Q 1, a tie that goes to the smaller id; B: Q; C: w is not
	// placed.
	require.Equal(t, map[string]string{"A": "P", "B": "Q", "C": ""}, Majority(a, b))
}

func TestSuspectMetrics(t *testing.T) {
	causes := map[string]string{"G1": "d1", "G2": "", "G3": "d3", "G4": "d4"}
	suspects := map[string][]string{
		"P1": {"d2", "d1"},
		"P2": {"d9"},
		"P3": {"d3"},
		"P4": nil,
		"P5": {"d5", "d6", "d7", "d4"},
	}
	toPred := map[string]string{"G1": "P1", "G2": "P2", "G3": "P3", "G4": "P5"}
	// G1: d1 second; G3: d3 first; G4: d4 fourth. G2 has no cause.
	require.Equal(t, Ratio{1, 3}, HitAtK(causes, toPred, suspects, 1))
	require.Equal(t, Ratio{2, 3}, HitAtK(causes, toPred, suspects, 3))
	require.Equal(t, Ratio{3, 3}, HitAtK(causes, toPred, suspects, 4))
	toGold := map[string]string{"P1": "G1", "P2": "G2", "P3": "G3", "P4": "G4", "P5": "G4"}
	// Naming a suspect: P1 (d2, not d1: false), P2 (G2 has no cause:
	// false), P3 (right), P5 (d5, not d4: false). P4 names none.
	require.Equal(t, Ratio{3, 4}, FalseSuspects(causes, toGold, suspects))
	// A predicted incident matched to no true incident is wrong.
	require.Equal(t, Ratio{1, 1}, FalseSuspects(causes, map[string]string{}, map[string][]string{"P9": {"d1"}}))
}

func TestRatio(t *testing.T) {
	require.Equal(t, "n/a", Ratio{}.String())
	require.Equal(t, "0.67 (2/3)", Ratio{2, 3}.String())
	require.Equal(t, Ratio{3, 5}, Ratio{2, 3}.Add(Ratio{1, 2}))
	require.InDelta(t, 0.0, Ratio{}.Value(), 0)
}
