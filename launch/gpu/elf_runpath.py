#!/usr/bin/env python3
"""Replaces the DT_RUNPATH (or DT_RPATH) string of an ELF64 little-endian file in place.

Usage: elf_runpath.py NEW_RUNPATH FILE...

Used by launch/gpu-bundle.sh: the binaries of a build carry the build machine's paths (the torch
virtual environment, /usr/lib/x86_64-linux-gnu/openmpi/lib); in the bundle they get an
$ORIGIN-relative path to the bundle's lib/ instead, so that nothing is looked up at the build
machine's paths on another host, and LibTorch is found only through LD_LIBRARY_PATH (env.sh).

The new string is written over the old one in the dynamic string table and padded with NUL
bytes, so it must not be longer. A file whose old string shares bytes with another name of the
table (a linker may merge a name into the tail of a longer one) is left unchanged and reported.
Prints one line per file; exit status 1 if any file could not be changed, 0 otherwise (a file
without a run path is not an error).
"""
import struct
import sys

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERNEED = 11, 0x6FFFFFFD, 0x6FFFFFFE


def vaddr_to_offset(loads, vaddr):
    for p_offset, p_vaddr, p_filesz in loads:
        if p_vaddr <= vaddr < p_vaddr + p_filesz:
            return vaddr - p_vaddr + p_offset
    raise ValueError("address 0x%x is in no loaded segment" % vaddr)


def other_name_offsets(data, dyn_entries, shoff, shentsize, shnum):
    """Every dynamic-string-table offset that names something other than the run path."""
    names = [val for tag, val in dyn_entries if tag in (DT_NEEDED, DT_SONAME)]
    for i in range(shnum):
        base = shoff + i * shentsize
        sh_type, = struct.unpack_from("<I", data, base + 4)
        sh_offset, sh_size = struct.unpack_from("<QQ", data, base + 24)
        sh_entsize, = struct.unpack_from("<Q", data, base + 56)
        sh_info, = struct.unpack_from("<I", data, base + 44)
        if sh_type == SHT_DYNSYM and sh_entsize:
            for s in range(sh_size // sh_entsize):
                names.append(struct.unpack_from("<I", data, sh_offset + s * sh_entsize)[0])
        elif sh_type == SHT_GNU_VERNEED:
            at = sh_offset
            for _ in range(sh_info):
                _, cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, at)
                names.append(vn_file)
                aux = at + vn_aux
                for _ in range(cnt):
                    _, _, _, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                    names.append(vna_name)
                    aux += vna_next
                at += vn_next
        elif sh_type == SHT_GNU_VERDEF:
            at = sh_offset
            for _ in range(sh_info):
                _, _, _, cnt, _, vd_aux, vd_next = struct.unpack_from("<HHHHIII", data, at)
                aux = at + vd_aux
                for _ in range(cnt):
                    vda_name, vda_next = struct.unpack_from("<II", data, aux)
                    names.append(vda_name)
                    aux += vda_next
                at += vd_next
    return names


def set_runpath(path, new):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return "not an ELF64 little-endian file"
    phoff, shoff = struct.unpack_from("<QQ", data, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 54)
    loads, dynamic = [], None
    for i in range(phnum):
        base = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", data, base)
        p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<QQQQ", data, base + 8)
        if p_type == PT_LOAD:
            loads.append((p_offset, p_vaddr, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return None  # statically linked: nothing to change
    entries = []
    for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, val = struct.unpack_from("<qQ", data, at)
        if tag == DT_NULL:
            break
        entries.append((tag, val))
    tags = dict(entries)
    paths = [val for tag, val in entries if tag in (DT_RUNPATH, DT_RPATH)]
    if not paths:
        return None
    strtab = vaddr_to_offset(loads, tags[DT_STRTAB])
    encoded = new.encode()
    others = other_name_offsets(data, entries, shoff, shentsize, shnum)
    for start in paths:
        end = data.index(b"\0", strtab + start) - strtab
        if len(encoded) > end - start:
            return "new run path longer than the old one (%d > %d bytes)" % (len(encoded), end - start)
        if any(start < o <= end for o in others):
            return "the old run path shares bytes with another name; left unchanged"
        data[strtab + start:strtab + end] = encoded + b"\0" * (end - start - len(encoded))
    with open(path, "r+b") as f:
        f.write(data)
    return None


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failed = False
    for path in argv[2:]:
        try:
            problem = set_runpath(path, argv[1])
        except (OSError, ValueError, struct.error) as e:
            problem = str(e)
        if problem:
            print("elf_runpath: %s: %s" % (path, problem), file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
