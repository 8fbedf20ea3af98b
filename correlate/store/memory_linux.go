package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fileResident is the process's file-backed resident memory (RssFile).
func fileResident() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("RssFile:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse RssFile: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no RssFile in /proc/self/status")
}

// mapping is one mapped range of /proc/self/maps.
type mapping struct {
	start, end uintptr
	path       string
}

// mappings lists the process's mappings of files for which keep is true.
func mappings(keep func(path string) bool) ([]mapping, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("read process mappings: %w", err)
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !keep(fields[5]) {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, mapping{start: uintptr(start), end: uintptr(end), path: fields[5]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read process mappings: %w", err)
	}
	return out, nil
}

// pageOut asks the kernel to reclaim the resident pages of the mapped
// files for which keep is true, and returns how many mappings it asked
// for. MADV_PAGEOUT only reclaims (writing a dirty page back first) and
// never changes what a page holds, so a range that Badger unmapped, or
// that something else mapped meanwhile, comes to no harm.
func pageOut(keep func(path string) bool) (int, error) {
	ms, err := mappings(keep)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
		switch errno {
		case 0:
			n++
		case unix.ENOMEM: // unmapped since /proc/self/maps was read
		case unix.EINVAL: // a kernel before 5.4: nothing to do
			return n, nil
		default:
			return n, fmt.Errorf("madvise %s: %w", m.path, errno)
		}
	}
	return n, nil
}

// residentOf is the resident memory of the mapped files for which keep
// is true, from /proc/self/smaps.
func residentOf(keep func(path string) bool) (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read process mappings: %w", err)
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && keep(fields[5])
			continue
		}
		if in && fields[0] == "Rss:" && len(fields) >= 2 {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				total += kb << 10
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read process mappings: %w", err)
	}
	return total, nil
}
