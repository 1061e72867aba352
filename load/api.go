package load

import (
	"errors"
	"time"
)

// ErrStoreAccess is wrapped by errors that mean the output or input location
// is misconfigured (bucket missing, permission denied, not a directory):
// retrying will not help (exit 2). The message names the bucket or path and
// the permission needed.
var ErrStoreAccess = errors.New("store not accessible")

// Slot identifies what a run replaces: one logical time and one shard.
type Slot struct {
	LogicalTime time.Time // UTC; dt = its date
	ShardIndex  int
	ShardCount  int // >= 1
}

// FileInfo describes a published Parquet file.
type FileInfo struct {
	Path   string `json:"path"` // full URL or path as a reader would use it
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	CRC32C uint32 `json:"crc32c"`
}
