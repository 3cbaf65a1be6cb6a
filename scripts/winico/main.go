// Command winico turns Podium's PNG icon into the Windows icon (.ico) that the executables and
// the installer carry:
//
//	go run ./scripts/winico assets/icon.png out.ico
//
// The .ico holds the icon at 16, 24, 32, 48, 64 and 256 pixels, each as PNG (which Windows
// reads since Vista): the Start menu, the taskbar and Explorer each pick the size they draw
// rather than shrinking the 256-pixel one themselves. fyne package writes only the 256-pixel
// image; the small sizes here are averaged over whole source pixels, so a 16-pixel icon stays
// a microphone rather than a few sampled dots.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

var sizes = []int{16, 24, 32, 48, 64, 256}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: winico ICON.png OUT.ico")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "winico:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("decoding %s: %w", in, err)
	}
	if b := src.Bounds(); b.Dx() != b.Dy() || b.Dx() < 256 {
		return fmt.Errorf("%s is %dx%d: the icon must be square and at least 256 pixels", in, b.Dx(), b.Dy())
	}
	var images [][]byte
	for _, s := range sizes {
		var buf bytes.Buffer
		if err := png.Encode(&buf, shrink(src, s)); err != nil {
			return fmt.Errorf("encoding the %d-pixel icon: %w", s, err)
		}
		images = append(images, buf.Bytes())
	}
	// ICONDIR, then one ICONDIRENTRY per image, then the images; 0 in a size byte means 256.
	var ico bytes.Buffer
	le := binary.LittleEndian
	ico.Write(le.AppendUint16(le.AppendUint16(le.AppendUint16(nil, 0), 1), uint16(len(sizes))))
	offset := 6 + 16*len(sizes)
	for i, s := range sizes {
		e := []byte{byte(s), byte(s), 0, 0} // width, height (256 → 0), no palette, reserved
		e = le.AppendUint16(e, 1)           // colour planes
		e = le.AppendUint16(e, 32)          // bits per pixel
		e = le.AppendUint32(e, uint32(len(images[i])))
		e = le.AppendUint32(e, uint32(offset))
		ico.Write(e)
		offset += len(images[i])
	}
	for _, img := range images {
		ico.Write(img)
	}
	if err := os.WriteFile(out, ico.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// shrink scales src down to size×size by averaging, for each destination pixel, the source
// pixels it covers, each weighted by the part of it that is covered, in premultiplied alpha
// (so transparent edges do not darken).
func shrink(src image.Image, size int) image.Image {
	b := src.Bounds()
	n := b.Dx()
	dst := image.NewNRGBA(image.Rect(0, 0, size, size))
	scale := float64(n) / float64(size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var r, g, bl, a, w float64
			y0, y1 := float64(y)*scale, float64(y+1)*scale
			x0, x1 := float64(x)*scale, float64(x+1)*scale
			for sy := int(y0); float64(sy) < y1 && sy < n; sy++ {
				wy := min(y1, float64(sy+1)) - max(y0, float64(sy))
				for sx := int(x0); float64(sx) < x1 && sx < n; sx++ {
					wx := min(x1, float64(sx+1)) - max(x0, float64(sx))
					pr, pg, pb, pa := src.At(b.Min.X+sx, b.Min.Y+sy).RGBA() // premultiplied, 16-bit
					k := wx * wy
					r, g, bl, a, w = r+k*float64(pr), g+k*float64(pg), bl+k*float64(pb), a+k*float64(pa), w+k
				}
			}
			if a == 0 {
				continue
			}
			// Un-premultiply: colour over alpha, alpha over the covered area.
			dst.SetNRGBA(x, y, color.NRGBA{
				R: uint8(r / a * 255), G: uint8(g / a * 255), B: uint8(bl / a * 255),
				A: uint8(a / w / 0xffff * 255),
			})
		}
	}
	return dst
}
