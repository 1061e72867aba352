package load

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// emulator serves fake-gcs-server on loopback behind middleware, and
// points STORAGE_EMULATOR_HOST at it, so Open and ReadObject build their
// client the production way (storage.NewClient, which honours the
// variable). Tests using it cannot run in parallel.
func emulator(t *testing.T, middleware func(http.Handler) http.Handler) *fakestorage.Server {
	ts := httptest.NewUnstartedServer(nil)
	// Reads go to the XML endpoint, /bucket/object on the emulator host;
	// fake-gcs-server serves those for its public host.
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	ts.Config.Handler = middleware(srv.HTTPHandler())
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Stop() })
	t.Setenv("STORAGE_EMULATOR_HOST", ts.Listener.Addr().String())
	return srv
}

func noMiddleware(h http.Handler) http.Handler { return h }

// TestGCSRidesOutServerErrors runs a whole export against a GCS that
// answers 503 to the first attempt of every distinct request (upload
// chunks included) until it recovers after 150 requests.
func TestGCSRidesOutServerErrors(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	total, failed := 0, 0
	failedKinds := map[string]bool{}
	emulator(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Method + " " + r.URL.String() + " " + r.Header.Get("Content-Range")
			mu.Lock()
			total++
			fail := total <= 150 && !seen[key]
			seen[key] = true
			if fail {
				failed++
				kind := r.Method + " " + strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
				if r.Header.Get("Content-Range") != "" {
					kind = "upload chunk" // resumable: PUT or POST with a range
				}
				failedKinds[kind] = true
			}
			mu.Unlock()
			if fail {
				io.Copy(io.Discard, r.Body)
				http.Error(w, `{"error":{"code":503,"message":"try again"}}`, http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	tbl, err := Open(ctx, "gs://"+testBucket+"/videosdk", fastRetries)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	// A resumable upload of three chunks, with chunks answered 503.
	body := payload(9, 700<<10)
	if _, err := put(t, tbl.drv, "big", body, precondition{DoesNotExist: true}); err != nil {
		t.Fatalf("upload through 503s: %v", err)
	}
	if !bytes.Equal(readObject(t, tbl.drv, "big"), body) {
		t.Fatal("upload through 503s corrupted the object")
	}
	slot := Slot{LogicalTime: lt1, ShardCount: 1}
	publishRun(t, tbl, slot, "r1", []int{2000, 10, 3000}, WriteOptions{MaxFileBytes: 100 << 10})
	files := publishRun(t, tbl, slot, "r2", []int{3000, 2000, 10}, WriteOptions{MaxFileBytes: 100 << 10})
	if _, err := tbl.WriteReport(ctx, slot, "r2", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	wantExactlyOnce(t, readTable(t, tbl, slot), "r2", []int{3000, 2000, 10})
	mu.Lock()
	defer mu.Unlock()
	for _, kind := range []string{"upload chunk", "POST upload", "POST storage", "DELETE storage", "GET storage"} {
		if !failedKinds[kind] {
			t.Errorf("no %q request was answered 503 (got %v); the test proves less than it claims", kind, failedKinds)
		}
	}
	if len(files) < 2 {
		t.Errorf("want a multi-part run, got %d files", len(files))
	}
	t.Logf("%d of %d requests answered 503: %v", failed, total, failedKinds)
}

func TestOpenAccessErrors(t *testing.T) {
	t.Run("missing bucket", func(t *testing.T) {
		emulator(t, noMiddleware)
		_, err := Open(context.Background(), "gs://no-such-bucket/x", fastRetries)
		if !errors.Is(err, ErrStoreAccess) || !strings.Contains(err.Error(), "no-such-bucket") {
			t.Errorf("Open: %v, want ErrStoreAccess naming the bucket", err)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		emulator(t, func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"error":{"code":403,"message":"sa@p.iam does not have storage.objects.list access"}}`)
			})
		})
		_, err := Open(context.Background(), "gs://"+testBucket+"/x", fastRetries)
		if !errors.Is(err, ErrStoreAccess) || !strings.Contains(err.Error(), testBucket) || !strings.Contains(err.Error(), "roles/storage.objectUser") {
			t.Errorf("Open: %v, want ErrStoreAccess naming the bucket and roles/storage.objectUser", err)
		}
	})
	t.Run("local output is a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "file")
		os.WriteFile(p, nil, 0o644)
		if _, err := Open(context.Background(), p, OpenOptions{}); !errors.Is(err, ErrStoreAccess) || !strings.Contains(err.Error(), p) {
			t.Errorf("Open: %v, want ErrStoreAccess naming %s", err, p)
		}
	})
	t.Run("no bucket name", func(t *testing.T) {
		if _, err := Open(context.Background(), "gs:///x", OpenOptions{}); !errors.Is(err, ErrStoreAccess) {
			t.Errorf("Open: %v, want ErrStoreAccess", err)
		}
	})
}

func TestReadObject(t *testing.T) {
	srv := emulator(t, noMiddleware)
	srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: testBucket, Name: "lists/ids.txt"}, Content: []byte("a\nb\n")})
	local := filepath.Join(t.TempDir(), "ids.txt")
	os.WriteFile(local, []byte("c\n"), 0o644)
	ctx := context.Background()
	for loc, want := range map[string]string{"gs://" + testBucket + "/lists/ids.txt": "a\nb\n", local: "c\n"} {
		r, err := ReadObject(ctx, loc, fastRetries)
		if err != nil {
			t.Fatalf("ReadObject(%s): %v", loc, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != want {
			t.Errorf("ReadObject(%s) = %q, %v; want %q", loc, got, err, want)
		}
	}
	for _, loc := range []string{"gs://" + testBucket + "/lists/missing.txt", local + ".missing", "gs://" + testBucket + "/", "gs://no-such-bucket/x"} {
		if _, err := ReadObject(ctx, loc, fastRetries); !errors.Is(err, ErrStoreAccess) {
			t.Errorf("ReadObject(%s): %v, want ErrStoreAccess", loc, err)
		}
	}
}

// TestGCSCRC32CMismatchDeletes makes the server report a wrong CRC32C for
// uploads; the writer must fail and leave no object.
func TestGCSCRC32CMismatchDeletes(t *testing.T) {
	crcField := regexp.MustCompile(`"crc32c":\s*"[^"]*"`)
	var mu sync.Mutex
	corrupted := 0
	srv := emulator(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/upload/") {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			var wrong [4]byte
			binary.BigEndian.PutUint32(wrong[:], 0xdeadbeef)
			if rec.Code == http.StatusOK && crcField.Match(body) {
				body = crcField.ReplaceAll(body, []byte(`"crc32c":"`+base64.StdEncoding.EncodeToString(wrong[:])+`"`))
				mu.Lock()
				corrupted++
				mu.Unlock()
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	})
	tbl, err := Open(context.Background(), "gs://"+testBucket+"/p", fastRetries)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	_, err = put(t, tbl.drv, "obj", bytes.Repeat([]byte("x"), 1000), precondition{DoesNotExist: true})
	if err == nil || !strings.Contains(err.Error(), "crc32c") {
		t.Errorf("Close with a wrong server CRC32C: %v, want a crc32c error", err)
	}
	if corrupted == 0 {
		t.Fatal("no upload response was corrupted; the test proves nothing")
	}
	list, _ := srv.ListObjectsWithOptionsPaginated(testBucket, fakestorage.ListOptions{})
	if objs := list.Objects; len(objs) != 0 {
		t.Errorf("an object with a CRC32C mismatch was left: %s", objs[0].Name)
	}
}
