package collab

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

func mustOp(t *testing.T, s string) ot.Op {
	t.Helper()
	op, err := ot.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return op
}

func opJSON(t *testing.T, op ot.Op) string {
	t.Helper()
	b, err := json.Marshal(op)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRebase(t *testing.T) {
	cases := []struct {
		name    string
		base    string   // the text the op and the history start from
		op      string   // written against base
		history []string // committed after base, in order
		want    string   // op to commit
		result  string   // text after history and the committed op
	}{
		{name: "NoHistory", base: "abc", op: `[1,"x"]`, want: `[1,"x"]`, result: "axbc"},
		{name: "InsertBeforeShifts", base: "abc", op: `[2,"x"]`, history: []string{`["12"]`}, want: `[4,"x"]`, result: "12abxc"},
		{name: "InsertAfterStays", base: "abc", op: `[1,"x"]`, history: []string{`[2,"Z"]`}, want: `[1,"x"]`, result: "axbZc"},
		// Incoming on Left: at the same position the later submission goes first.
		{name: "TieIncomingFirst", base: "abc", op: `[1,"x"]`, history: []string{`[1,"y"]`}, want: `[1,"x"]`, result: "axybc"},
		{name: "DeleteOverlapsCommittedDelete", base: "abcdef", op: `[1,{"d":3}]`, history: []string{`[2,{"d":3}]`}, want: `[1,{"d":1}]`, result: "af"},
		{name: "DeleteAcrossOthersInsert", base: "abcdef", op: `[1,{"d":4}]`, history: []string{`[3,"XY"]`}, want: `[1,{"d":2},2,{"d":2}]`, result: "aXYf"},
		{name: "OverSeveralOps", base: "hello", op: `[5," world"]`, history: []string{`["> "]`, `[{"d":2},"<<"]`, `[4,{"d":3}]`}, want: `[4," world"]`, result: "<<he world"},
		{name: "EmojiCountsOneCodePoint", base: "a😀b", op: `[3,"!"]`, history: []string{`["😀"]`}, want: `[4,"!"]`, result: "😀a😀b!"},
		{name: "CRLFIsTwoCodePoints", base: "a\r\nb", op: `[3,"x"]`, history: []string{`[1,{"d":2}]`}, want: `[1,"x"]`, result: "axb"},
		{name: "DeletedTextIsKeptWhereStillThere", base: "abcdef", op: `[2,{"d":"cd"}]`, history: []string{`["Q"]`}, want: `[3,{"d":"cd"}]`, result: "Qabef"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			history := make([]ot.Op, len(tc.history))
			text := ot.NewText(tc.base)
			for i, h := range tc.history {
				history[i] = mustOp(t, h)
				if err := text.Apply(history[i]); err != nil {
					t.Fatalf("history op %d does not apply: %v", i, err)
				}
			}
			got, err := rebase(mustOp(t, tc.op), history)
			if err != nil {
				t.Fatalf("rebase: %v", err)
			}
			if s := opJSON(t, got); s != tc.want {
				t.Fatalf("rebase = %s, want %s", s, tc.want)
			}
			if err := text.Apply(got); err != nil {
				t.Fatalf("rebased op does not apply: %v", err)
			}
			if text.String() != tc.result {
				t.Fatalf("text = %q, want %q", text.String(), tc.result)
			}
		})
	}

	t.Run("ErrBadOp", func(t *testing.T) {
		bad := ot.Op{{Skip: 1}} // a trailing skip is not normalized
		if _, err := rebase(bad, []ot.Op{mustOp(t, `["x"]`)}); err == nil {
			t.Fatal("rebase accepted an invalid op")
		}
	})
}

func TestInvertOn(t *testing.T) {
	for _, tc := range []struct{ text, op string }{
		{"hello", `[1,"xy",{"d":2}]`},
		{"a😀\r\nb", `[1,{"d":3},"é"]`},
		{"abc", `[{"d":"abc"},"z"]`},
	} {
		text := ot.NewText(tc.text)
		op := mustOp(t, tc.op)
		inv, err := invertOn(text, op)
		if err != nil {
			t.Fatalf("invertOn(%q, %s): %v", tc.text, tc.op, err)
		}
		if err := text.Apply(op); err != nil {
			t.Fatal(err)
		}
		if err := text.Apply(inv); err != nil {
			t.Fatalf("inverse %s does not apply: %v", opJSON(t, inv), err)
		}
		if text.String() != tc.text {
			t.Fatalf("after op and inverse: %q, want %q", text.String(), tc.text)
		}
	}
	for _, tc := range []struct{ text, op string }{
		{"abc", `[2,{"d":2}]`},        // past the end
		{"abc", `[4,"x"]`},            // skip past the end
		{"abc", `[{"d":"abd"}]`},      // wrong deleted text
		{"abc", `[1,{"d":"bc"},"x"]`}, // fits
	} {
		_, err := invertOn(ot.NewText(tc.text), mustOp(t, tc.op))
		fits := tc.op == `[1,{"d":"bc"},"x"]`
		if (err == nil) != fits {
			t.Fatalf("invertOn(%q, %s) error = %v, fits = %v", tc.text, tc.op, err, fits)
		}
	}
}

// step is one submission to an authority, in the manner of ot.js's server
// test: an op received against a revision comes back transformed, is
// applied, and the text follows.
type step struct {
	base int64
	id   string
	op   string
	want string // the op as committed; "" when refused or a duplicate
	dup  int64  // > 0: answered as the duplicate of this revision
	code string // the refusal's code
}

// run receives and applies each step in turn, as the worker does with a
// batch of one.
func runSteps(t *testing.T, a *authority, steps []step) {
	t.Helper()
	for i, st := range steps {
		v := a.receive([]proposal{{baseRev: st.base, opID: st.id, op: mustOp(t, st.op)}}, nil)[0]
		switch {
		case st.code != "":
			if gdoc.ErrorCode(v.err) != st.code {
				t.Fatalf("step %d (%s): error %v, want code %s", i, st.id, v.err, st.code)
			}
			continue
		case v.err != nil:
			t.Fatalf("step %d (%s): %v", i, st.id, v.err)
		case st.dup > 0:
			if v.op != nil || v.dupRev != st.dup {
				t.Fatalf("step %d (%s): got op %v dup %d, want duplicate of %d", i, st.id, v.op, v.dupRev, st.dup)
			}
			continue
		}
		if got := opJSON(t, v.op); got != st.want {
			t.Fatalf("step %d (%s): committed %s, want %s", i, st.id, got, st.want)
		}
		c := committed{op: gdoc.CommittedOp{Rev: a.head + 1, OpID: st.id}, parsed: v.op}
		if err := a.apply(c); err != nil {
			t.Fatalf("step %d (%s): apply: %v", i, st.id, err)
		}
	}
}

func TestAuthority(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		rev   int64
		steps []step
		want  string
		head  int64
	}{
		{name: "AtHead", text: "abc", steps: []step{{base: 0, id: "a:1", op: `[3,"d"]`, want: `[3,"d"]`}}, want: "abcd", head: 1},
		// Two clients at revision 0: the second is transformed over the first.
		{name: "ConcurrentInserts", text: "lorem ipsum", steps: []step{
			{base: 0, id: "a:1", op: `["LOREM",{"d":5}]`, want: `["LOREM",{"d":5}]`},
			{base: 0, id: "b:1", op: `[6,{"d":5},"IPSUM"]`, want: `[6,{"d":5},"IPSUM"]`},
		}, want: "LOREM IPSUM", head: 2},
		{name: "LateByTwo", text: "x", steps: []step{
			{base: 0, id: "a:1", op: `["1"]`, want: `["1"]`},
			{base: 1, id: "a:2", op: `[2,"2"]`, want: `[2,"2"]`},
			{base: 0, id: "b:1", op: `[1,"!"]`, want: `[2,"!"]`}, // before "2": incoming on the Left
		}, want: "1x!2", head: 3},
		{name: "StartsAtSnapshot", text: "snap", rev: 41, steps: []step{{base: 41, id: "a:1", op: `[4,"!"]`, want: `[4,"!"]`}}, want: "snap!", head: 42},
		{name: "DuplicateIsAnsweredWithItsRevision", text: "", steps: []step{
			{base: 0, id: "a:1", op: `["x"]`, want: `["x"]`},
			{base: 0, id: "a:1", op: `["x"]`, dup: 1},
		}, want: "x", head: 1},
		{name: "AheadIsBadRevision", text: "abc", steps: []step{{base: 1, id: "a:1", op: `["x"]`, code: CodeBadRevision}}, want: "abc"},
		{name: "NegativeIsBadRevision", text: "abc", steps: []step{{base: -1, id: "a:1", op: `["x"]`, code: CodeBadRevision}}, want: "abc"},
		{name: "DoesNotFitIsInvalid", text: "abc", steps: []step{{base: 0, id: "a:1", op: `[5,"x"]`, code: gdoc.EINVALID}}, want: "abc"},
		{name: "WrongDeletedTextIsInvalid", text: "abc", steps: []step{{base: 0, id: "a:1", op: `[{"d":"xy"}]`, code: gdoc.EINVALID}}, want: "abc"},
		{name: "RefusalChangesNothing", text: "ab", steps: []step{
			{base: 0, id: "a:1", op: `[9,"x"]`, code: gdoc.EINVALID},
			{base: 0, id: "a:1", op: `[1,"x"]`, want: `[1,"x"]`}, // the id stays free
		}, want: "axb", head: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthority(tc.text, tc.rev)
			runSteps(t, a, tc.steps)
			if a.text.String() != tc.want {
				t.Fatalf("text = %q, want %q", a.text.String(), tc.want)
			}
			if tc.head == 0 {
				tc.head = tc.rev
			}
			if a.head != tc.head {
				t.Fatalf("head = %d, want %d", a.head, tc.head)
			}
		})
	}
}

// A batch is rebased in order, each proposal over the ones before it, and
// leaves the text as it was until apply.
func TestAuthorityReceiveBatch(t *testing.T) {
	a := newAuthority("abc", 0)
	props := []proposal{
		{baseRev: 0, opID: "a:1", op: mustOp(t, `[1,"x"]`)},
		{baseRev: 0, opID: "b:1", op: mustOp(t, `[9,"bad"]`)},
		{baseRev: 0, opID: "c:1", op: mustOp(t, `[1,"y"]`)},
		{baseRev: 0, opID: "a:1", op: mustOp(t, `[1,"x"]`)},
		{baseRev: 1, opID: "d:1", op: mustOp(t, `["z"]`)},
	}
	v := a.receive(props, nil)
	if got := opJSON(t, v[0].op); got != `[1,"x"]` {
		t.Fatalf("first = %s", got)
	}
	if gdoc.ErrorCode(v[1].err) != gdoc.EINVALID {
		t.Fatalf("second: %+v, want EINVALID", v[1])
	}
	if got := opJSON(t, v[2].op); got != `[1,"y"]` { // over the first: the later one goes first
		t.Fatalf("third (over the first) = %s", got)
	}
	if !v[3].deferred {
		t.Fatalf("the same id twice in a batch: %+v, want deferred", v[3])
	}
	if gdoc.ErrorCode(v[4].err) != CodeBadRevision {
		t.Fatalf("based ahead of the head: %+v, want bad revision", v[4])
	}
	if a.text.String() != "abc" || a.head != 0 {
		t.Fatalf("receive changed the authority: %q at %d", a.text.String(), a.head)
	}
	for i, p := range []int{0, 2} {
		if err := a.apply(committed{op: gdoc.CommittedOp{Rev: int64(i + 1), OpID: props[p].opID}, parsed: v[p].op}); err != nil {
			t.Fatal(err)
		}
	}
	if a.text.String() != "ayxbc" {
		t.Fatalf("after the batch: %q", a.text.String())
	}
}

// A proposal based before the window is rebased over older history the
// caller read from the OpLog; without it, it is refused, not guessed.
func TestAuthorityWindowAndOlderHistory(t *testing.T) {
	a := newAuthority("", 0)
	var log []ot.Op
	for i := range recentOpsLimit + recentOpsSlack + 1 {
		op := ot.Op{{Insert: "x"}}
		if i > 0 {
			op = ot.Op{{Skip: i}, {Insert: "x"}}
		}
		log = append(log, op)
		if err := a.apply(committed{op: gdoc.CommittedOp{Rev: int64(i + 1), OpID: fmt.Sprintf("a:%d", i+1)}, parsed: op}); err != nil {
			t.Fatal(err)
		}
	}
	from := a.recentFrom()
	if len(a.recent) != recentOpsLimit || from != a.head-recentOpsLimit || a.idsFrom != from {
		t.Fatalf("window: %d ops after %d, ids after %d, head %d", len(a.recent), from, a.idsFrom, a.head)
	}
	if _, ok := a.duplicate("", "a:1"); ok {
		t.Fatal("an id older than the window is still indexed")
	}
	if rev, ok := a.duplicate("", fmt.Sprintf("a:%d", a.head)); !ok || rev != a.head {
		t.Fatalf("newest id: %d %v", rev, ok)
	}
	if ops, all := a.since(from - 1); all || len(ops) != recentOpsLimit {
		t.Fatalf("since before the window: %d ops, all %v", len(ops), all)
	}
	if ops, all := a.since(a.head - 2); !all || len(ops) != 2 {
		t.Fatalf("since head-2: %d ops, all %v", len(ops), all)
	}
	late := proposal{baseRev: from - 2, opID: "b:1", op: mustOp(t, `["!"]`)}
	if v := a.receive([]proposal{late}, nil)[0]; gdoc.ErrorCode(v.err) != gdoc.EINTERNAL {
		t.Fatalf("without older history: %+v, want EINTERNAL", v)
	}
	v := a.receive([]proposal{late}, log[from-2:from])[0]
	if v.err != nil {
		t.Fatal(v.err)
	}
	if got := opJSON(t, v.op); got != `["!"]` {
		t.Fatalf("late op = %s", got)
	}
}

func TestAuthorityReplay(t *testing.T) {
	raw := func(rev int64, op string) gdoc.CommittedOp {
		return gdoc.CommittedOp{DocID: "d", Rev: rev, OpID: fmt.Sprint("o", rev), Op: json.RawMessage(op)}
	}
	ops, err := parseOps([]gdoc.CommittedOp{raw(6, `[5,"!"]`), raw(7, `["<"]`), raw(8, `[{"d":1}]`)})
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthority("hello", 5)
	if n, err := a.replay(ops); err != nil || n != 3 || a.text.String() != "hello!" || a.head != 8 {
		t.Fatalf("replay = %d, %v: %q at %d", n, err, a.text.String(), a.head)
	}
	if rev, ok := a.duplicate("", "o7"); !ok || rev != 7 {
		t.Fatalf("replayed id o7: %d %v", rev, ok)
	}

	// A gap or an op that does not fit stops the replay where it is.
	a = newAuthority("hello", 5)
	if n, err := a.replay([]committed{ops[0], ops[2]}); err == nil || n != 1 || a.head != 6 || a.text.String() != "hello!" {
		t.Fatalf("replay over a gap = %d, %v at %d", n, err, a.head)
	}
	bad, _ := parseOps([]gdoc.CommittedOp{raw(6, `[9,"x"]`)})
	a = newAuthority("hello", 5)
	if n, err := a.replay(bad); err == nil || n != 0 || a.head != 5 || a.text.String() != "hello" {
		t.Fatalf("replay of an op that does not fit = %d, %v", n, err)
	}
	if _, err := parseOps([]gdoc.CommittedOp{raw(6, `[{"x":1}]`)}); gdoc.ErrorCode(err) != gdoc.EINTERNAL {
		t.Fatalf("parseOps of a malformed op: %v, want EINTERNAL", err)
	}
}

// The window is bounded by the encoded size of its ops as well as by their
// count: big pastes do not pile up megabytes per document.
func TestAuthorityWindowBoundedByBytes(t *testing.T) {
	a := newAuthority("", 0)
	a.maxTextBytes = 1 << 30
	chunk := strings.Repeat("x", 256<<10)
	for i := range 100 {
		op := ot.Op{{Insert: chunk}}
		if i > 0 {
			op = ot.Op{{Skip: i * len(chunk)}, {Insert: chunk}}
		}
		raw, _ := json.Marshal(op)
		c := committed{op: gdoc.CommittedOp{Rev: int64(i + 1), OpID: fmt.Sprintf("a:%d", i+1), UserID: "1", Op: raw}, parsed: op}
		if err := a.apply(c); err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, c := range a.recent {
			total += len(c.op.Op)
		}
		if total != a.recentBytes || total > recentOpsBytes {
			t.Fatalf("after op %d: window of %d ops holds %d bytes (counted %d), limit %d", i+1, len(a.recent), total, a.recentBytes, recentOpsBytes)
		}
	}
	if len(a.recent) == 0 || a.recentFrom() != a.idsFrom {
		t.Fatalf("window: %d ops after %d, ids after %d", len(a.recent), a.recentFrom(), a.idsFrom)
	}
	if _, ok := a.duplicate("1", "a:1"); ok {
		t.Fatal("an id cut from the window is still indexed")
	}
	if rev, ok := a.duplicate("1", "a:100"); !ok || rev != 100 {
		t.Fatalf("newest id: %d %v", rev, ok)
	}
}

// Ids are per user; the document's size bound refuses growth only; a base
// older than the connection's first revision is a bad revision.
func TestAuthorityUsersSizesAndBases(t *testing.T) {
	a := newAuthority("abc", 0)
	a.maxTextBytes = 6
	first := a.receive([]proposal{{baseRev: 0, user: "1", opID: "k:1", op: mustOp(t, `["x"]`)}}, nil)[0]
	if err := a.apply(committed{op: gdoc.CommittedOp{Rev: 1, UserID: "1", OpID: "k:1"}, parsed: first.op}); err != nil {
		t.Fatal(err)
	}
	v := a.receive([]proposal{
		{baseRev: 1, user: "2", opID: "k:1", op: mustOp(t, `["y"]`)},             // another user's k:1
		{baseRev: 1, user: "1", opID: "k:1", op: mustOp(t, `["x"]`)},             // the same user's resend
		{baseRev: 1, user: "2", opID: "k:2", op: mustOp(t, `["zz"]`)},            // 7 bytes: too large
		{baseRev: 1, user: "2", opID: "k:3", op: mustOp(t, `[{"d":2}]`)},         // shrinks
		{baseRev: 0, minBase: 1, user: "3", opID: "k:1", op: mustOp(t, `["w"]`)}, // before its connection
	}, nil)
	if v[0].op == nil || v[0].err != nil {
		t.Fatalf("another user's id: %+v, want it accepted", v[0])
	}
	if v[1].op != nil || v[1].dupRev != 1 {
		t.Fatalf("the same user's id: %+v, want the duplicate of 1", v[1])
	}
	if gdoc.ErrorCode(v[2].err) != gdoc.ETOOLARGE {
		t.Fatalf("growth past the bound: %+v", v[2])
	}
	if v[3].op == nil {
		t.Fatalf("a delete: %+v", v[3])
	}
	if gdoc.ErrorCode(v[4].err) != CodeBadRevision {
		t.Fatalf("a base before the connection's first revision: %+v", v[4])
	}
	if a.text.String() != "xabc" || a.text.Bytes() != 4 {
		t.Fatalf("receive changed the text: %q", a.text.String())
	}
}
