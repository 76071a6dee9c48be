package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gdoc/gdoc/internal/gdoc"
)

var testKey = []byte(strings.Repeat("0123456789abcdef", 2))

func newTestService(t *testing.T, store Store) *Service {
	t.Helper()
	s, err := New(testKey, time.Hour, store)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashPassword(t *testing.T) {
	ctx := context.Background()
	hash, err := HashPassword(ctx, "securepass123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, "securepass123") {
		t.Fatalf("hash = %q", hash)
	}
	if ok, err := VerifyPassword(ctx, hash, "securepass123"); err != nil || !ok {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	if ok, err := VerifyPassword(ctx, hash, "securepass124"); err != nil || ok {
		t.Fatalf("wrong password: ok=%v err=%v", ok, err)
	}
	other, _ := HashPassword(ctx, "securepass123")
	if other == hash {
		t.Fatal("two hashes of one password must differ (salt)")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=x$a$b", "$bcrypt$v=19$m=1,t=1,p=1$YQ$YQ"} {
		if _, err := VerifyPassword(ctx, bad, "x"); err == nil {
			t.Errorf("VerifyPassword accepted hash %q", bad)
		}
	}
}

func TestNewRefusesWeakKey(t *testing.T) {
	if _, err := New([]byte("short"), time.Hour, nil); gdoc.ErrorCode(err) != gdoc.EINVALID {
		t.Fatalf("err = %v", err)
	}
}

func TestIssueAndParse(t *testing.T) {
	s := newTestService(t, nil)
	token, exp, err := s.Issue(&gdoc.User{ID: "7"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := s.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.UserID != "7" || claims.TokenID == "" || !claims.ExpiresAt.Equal(exp) {
		t.Fatalf("claims = %+v (exp %v)", claims, exp)
	}
	token2, _, _ := s.Issue(&gdoc.User{ID: "7"})
	if c2, _ := s.Parse(token2); c2.TokenID == claims.TokenID {
		t.Fatal("each token needs its own jti")
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestParseRefuses(t *testing.T) {
	s := newTestService(t, nil)
	now := time.Now()
	valid := jwt.MapClaims{"sub": "1", "jti": "abc", "aud": "gdoc", "iss": "gdoc", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range valid {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	good := sign(t, jwt.SigningMethodHS256, testKey, valid)
	if _, err := s.Parse(good); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	cases := map[string]string{
		"Empty":       "",
		"Garbage":     "not.a.token",
		"AlgNone":     sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid),
		"HS512":       sign(t, jwt.SigningMethodHS512, testKey, valid),
		"WrongKey":    sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), valid),
		"Expired":     sign(t, jwt.SigningMethodHS256, testKey, with("exp", now.Add(-time.Hour).Unix())),
		"NoExp":       sign(t, jwt.SigningMethodHS256, testKey, with("exp", nil)),
		"WrongAud":    sign(t, jwt.SigningMethodHS256, testKey, with("aud", "other")),
		"NoSubject":   sign(t, jwt.SigningMethodHS256, testKey, with("sub", nil)),
		"NoJTI":       sign(t, jwt.SigningMethodHS256, testKey, with("jti", nil)),
		"FutureIAT":   sign(t, jwt.SigningMethodHS256, testKey, with("iat", now.Add(time.Hour).Unix())),
		"NegativeTEP": sign(t, jwt.SigningMethodHS256, testKey, with("tep", -1)),
		"Tampered":    good[:len(good)-2] + "xx",
		"SwappedBody": strings.Split(good, ".")[0] + "." + strings.Split(sign(t, jwt.SigningMethodHS256, testKey, with("sub", "2")), ".")[1] + "." + strings.Split(good, ".")[2],
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Parse(token); gdoc.ErrorCode(err) != gdoc.EUNAUTHORIZED {
				t.Fatalf("err = %v, want EUNAUTHORIZED", err)
			}
		})
	}
	if _, err := s.Parse(cases["Expired"]); !strings.Contains(gdoc.ErrorMessage(err), "expired") {
		t.Errorf("expired token message = %q", gdoc.ErrorMessage(err))
	}
}
