package load

import (
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdWindow bounds how far back an encoder looks, and so its memory: about
// 2 MiB per encoder instead of the 8 MiB window (and 16 MiB of history) of
// arrow-go's encoders. A Parquet page is compressed on its own and pages
// close at dataPageBytes (256 KiB), so a larger window finds
// nothing more.
const zstdWindow = 1 << 20

// zstdCodec is arrow-go's zstd codec with long-lived encoders for the
// default level: arrow-go keeps its encoders in a sync.Pool, which every GC
// empties, so a writer rebuilt its encoders (and their windows) over and
// over. Decoding, streams and other levels are arrow-go's.
type zstdCodec struct {
	compress.Codec
	// idle holds encoders between pages; a writer takes one per page. Its
	// capacity bounds the encoders kept, not the ones in use.
	idle chan *zstd.Encoder
}

// The registry is process-wide and read without a lock, so the codec is
// registered once, before any writer can run.
func init() {
	arrowZstd, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(err) // arrow-go registers zstd in its own init
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdCodec{Codec: arrowZstd, idle: make(chan *zstd.Encoder, 4)})
}

func newZstdEncoder() *zstd.Encoder {
	// The options of arrow-go's pooled encoders, less the window.
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(zstdWindow))
	if err != nil {
		panic(err) // the options are constant and valid
	}
	return enc
}

func (c *zstdCodec) Encode(dst, src []byte) []byte {
	return c.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (c *zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	if level != compress.DefaultCompressionLevel {
		return c.Codec.EncodeLevel(dst, src, level)
	}
	var enc *zstd.Encoder
	select {
	case enc = <-c.idle:
	default:
		enc = newZstdEncoder()
	}
	out := enc.EncodeAll(src, dst[:0])
	select {
	case c.idle <- enc:
	default: // enough kept
	}
	return out
}
