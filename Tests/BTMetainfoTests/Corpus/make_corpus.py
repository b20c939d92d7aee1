#!/usr/bin/env python3
"""Writes the named bad-torrent corpus (Corpus/bad/*.torrent) and its manifest (Corpus/bad/expected.tsv).

Each case is one small file, named after what is wrong with it (as libtorrent's test/test_torrents does);
the manifest maps each file to the MetainfoError.Code the parser must throw, or to `opens` where libtorrent
2.1 opens the file too (unsafe names are sanitized, trailing bytes ignored). Standard library only.
Run from anywhere: python3 Tests/BTMetainfoTests/Corpus/make_corpus.py
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bad")


def benc(v, sort=True):
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, list):
        return b"l" + b"".join(benc(x, sort) for x in v) + b"e"
    if isinstance(v, dict):
        items = [(k.encode() if isinstance(k, str) else k, x) for k, x in v.items()]
        if sort:
            items.sort()
        return b"d" + b"".join(benc(k) + benc(x, sort) for k, x in items) + b"e"
    raise TypeError(type(v))


PL = 16384
H20 = b"\x11" * 20
R32 = b"\x22" * 32


def v1_single(**info):
    base = {"name": "a.bin", "piece length": PL, "length": 100, "pieces": H20}
    base.update(info)
    return {"announce": "http://t/a", "info": {k: v for k, v in base.items() if v is not None}}


def v1_multi(files, pieces=None, **info):
    total = sum(f.get("length", 0) if isinstance(f, dict) and isinstance(f.get("length", 0), int) else 0
                for f in files) if isinstance(files, list) else 0
    count = max(0, (total + PL - 1) // PL)
    base = {"name": "folder", "piece length": PL, "files": files,
            "pieces": pieces if pieces is not None else H20 * min(count, 4)}
    base.update(info)
    return {"info": {k: v for k, v in base.items() if v is not None}}


def f(path, length=10, **extra):
    d = {"path": path, "length": length}
    d.update(extra)
    return d


def leaf(length, root=R32):
    d = {"length": length}
    if root is not None:
        d["pieces root"] = root
    return {"": d}


def v2(tree, layers=None, pl=PL, **info):
    base = {"name": "folder", "piece length": pl, "meta version": 2, "file tree": tree}
    base.update(info)
    t = {"info": {k: v for k, v in base.items() if v is not None}}
    if layers is not None:
        t["piece layers"] = layers
    return t


def hybrid(v1files, tree, pieces_count):
    return {"info": {"name": "folder", "piece length": PL, "meta version": 2, "file tree": tree,
                     "files": v1files, "pieces": H20 * pieces_count}}


def nest(depth):
    tree = {"f": leaf(10)}
    for i in range(depth):
        tree = {"d%d" % i: tree}
    return tree


deep = b"d4:infod4:name1:x12:piece lengthi16384e6:lengthi1e6:pieces20:" + H20 + b"5:extra" + b"l" * 200 + b"e" * 200 + b"ee"

CASES = [
    # (file name, expected code or "opens", bytes or dict)
    ("not_bencode", "invalidBencode", b"this is not a torrent"),
    ("truncated", "invalidBencode", benc(v1_single())[:-10]),
    ("trailing_garbage", "opens", benc(v1_single()) + b"xyz"),
    ("deep_nesting", "invalidBencode", deep),
    ("not_a_dictionary", "invalidField", benc([1, 2, 3])),
    ("missing_info", "missingField", benc({"announce": "http://t/a"})),
    ("info_not_dictionary", "invalidField", benc({"info": "nope"})),
    ("missing_name", "missingField", benc(v1_single(name=None))),
    ("name_not_string", "invalidField", benc(v1_single(name=7))),
    ("name_parent", "missingField", benc(v1_single(name=".."))),
    ("name_with_slash", "opens", benc(v1_single(name="../etc/passwd"))),
    ("missing_piece_length", "missingField", benc(v1_single(**{"piece length": None}))),
    ("piece_length_not_integer", "invalidField", benc(v1_single(**{"piece length": "16384"}))),
    ("negative_piece_len", "invalidPieceLength", benc(v1_single(**{"piece length": -16384}))),
    ("zero_piece_len", "invalidPieceLength", benc(v1_single(**{"piece length": 0}))),
    ("huge_piece_len", "invalidPieceLength", benc(v1_single(**{"piece length": 1 << 30}))),
    ("missing_pieces", "missingField", benc(v1_single(pieces=None))),
    ("pieces_not_string", "invalidPieceHashes", benc(v1_single(pieces=5))),
    ("pieces_not_multiple_of_20", "invalidPieceHashes", benc(v1_single(pieces=b"\x11" * 21))),
    ("too_few_pieces", "pieceCountMismatch", benc(v1_single(length=PL + 1))),
    ("too_many_pieces", "pieceCountMismatch", benc(v1_single(pieces=H20 * 3))),
    ("no_length_no_files", "missingField", benc(v1_single(length=None))),
    ("negative_size", "invalidFileLength", benc(v1_single(length=-1))),
    ("huge_size", "invalidFileLength", benc(v1_single(length=1 << 55))),
    ("negative_file_size", "invalidFileLength", benc(v1_multi([f(["a"], -5)]))),
    ("total_length_overflow", "invalidFileLength", benc(v1_multi([f([str(i)], 1 << 50) for i in range(5)]))),
    ("files_not_list", "missingField", benc(v1_multi("nope"))),
    ("no_files", "missingField", benc(v1_multi([]))),
    ("file_not_dictionary", "invalidField", benc(v1_multi([5]))),
    ("missing_file_path", "missingField", benc(v1_multi([{"length": 10}]))),
    ("missing_file_length", "missingField", benc(v1_multi([{"path": ["a"]}]))),
    ("file_length_not_integer", "invalidField", benc(v1_multi([f(["a"], "10")]))),
    ("path_not_list", "invalidField", benc(v1_multi([f("a")]))),
    ("path_element_not_string", "invalidField", benc(v1_multi([f(["a", 1])]))),
    ("empty_path", "missingField", benc(v1_multi([f([])]))),
    ("empty_path_component", "opens", benc(v1_multi([f(["a", "", "b"])]))),
    ("parent_path", "opens", benc(v1_multi([f(["..", "..", "etc", "passwd"])]))),
    ("dot_path", "opens", benc(v1_multi([f([".", "a"])]))),
    ("absolute_path", "opens", benc(v1_multi([f(["/etc", "passwd"])]))),
    ("slash_in_path", "opens", benc(v1_multi([f(["a/../../b"])]))),
    ("backslash_in_path", "opens", benc(v1_multi([f(["..\\..\\windows"])]))),
    ("nul_in_path", "opens", benc(v1_multi([f(["a\x00b"])]))),
    ("parent_path_utf8", "opens", benc(v1_multi([f(["ok"], **{"path.utf-8": [".."]})]))),
    ("duplicate_files", "opens", benc(v1_multi([f(["a", "b"]), f(["a", "b"])]))),
    ("file_is_folder", "opens", benc(v1_multi([f(["a"]), f(["a", "b"])]))),
    ("folder_is_file", "opens", benc(v1_multi([f(["a", "b", "c"]), f(["a", "b"])]))),
    ("unsupported_meta_version", "unsupportedVersion", benc(v2({"a": leaf(10)}, **{"meta version": 3}))),
    ("meta_version_not_integer", "missingField", benc(v2({"a": leaf(10)}, **{"meta version": "2"}))),
    ("v2_piece_len_not_power_of_two", "invalidPieceLength", benc(v2({"a": leaf(10)}, pl=3 * PL))),
    ("v2_piece_len_too_small", "invalidPieceLength", benc(v2({"a": leaf(10)}, pl=8192))),
    ("v2_missing_file_tree", "missingField", benc(v2(None))),
    ("v2_file_tree_not_dictionary", "invalidFileTree", benc(v2([1]))),
    ("v2_empty_file_tree", "invalidFileTree", benc(v2({}))),
    ("v2_node_not_dictionary", "invalidFileTree", benc(v2({"a": 5}))),
    ("v2_leaf_not_dictionary", "invalidFileTree", benc(v2({"a": {"": 5}}))),
    ("v2_missing_length", "invalidFileTree", benc(v2({"a": {"": {"pieces root": R32}}}))),
    ("v2_negative_length", "invalidFileLength", benc(v2({"a": leaf(-1)}))),
    ("v2_missing_pieces_root", "missingPiecesRoot", benc(v2({"a": leaf(10, root=None)}))),
    ("v2_pieces_root_wrong_length", "missingPiecesRoot", benc(v2({"a": leaf(10, root=b"\x22" * 31)}))),
    ("v2_file_and_folder", "invalidFileTree", benc(v2({"a": {"": {"length": 10, "pieces root": R32},
                                                             "b": leaf(10)}}))),
    ("v2_parent_path", "opens", benc(v2({"..": {"x": leaf(10)}}))),
    ("v2_piece_layer_wrong_size", "invalidPieceLayers",
     benc(v2({"a": leaf(3 * PL)}, layers={R32: b"\x33" * 64}))),
    ("v2_piece_layer_wrong_root", "invalidPieceLayers",
     benc(v2({"a": leaf(3 * PL)}, layers={R32: b"\x33" * 96}))),
    ("v2_piece_layers_not_dictionary", "opens", benc(v2({"a": leaf(3 * PL)}, layers=[1]))),
    ("hybrid_file_count_mismatch", "hybridMismatch",
     benc(hybrid([f(["a"], 10)], {"a": leaf(10), "b": leaf(10)}, 1))),
    ("hybrid_length_mismatch", "hybridMismatch", benc(hybrid([f(["a"], 10)], {"a": leaf(11)}, 1))),
    ("hybrid_path_mismatch", "hybridMismatch", benc(hybrid([f(["a"], 10)], {"b": leaf(10)}, 1))),
    ("hybrid_unaligned", "hybridMismatch",
     benc(hybrid([f(["a"], 10), f(["b"], 10)], {"a": leaf(10), "b": leaf(10)}, 1))),
] + [
    # Issue 12: more cases modelled on libtorrent's test/test_torrents names and on its bdecode tests.
    ("empty_file", "invalidBencode", b""),
    ("string", "invalidField", benc("just a string")),
    ("integer", "invalidField", benc(42)),
    ("info_list", "invalidField", benc({"info": [1, 2]})),
    ("info_empty", "missingField", benc({"info": {}})),
    ("leading_zero_integer", "invalidBencode", benc(v1_single()).replace(b"i100e", b"i0100e")),
    ("negative_zero_integer", "invalidBencode", benc(v1_single()).replace(b"i100e", b"i-0e")),
    ("overlong_integer", "invalidBencode", benc(v1_single()).replace(b"i100e", b"i" + b"9" * 40 + b"e")),
    ("string_length_overflow", "invalidBencode", b"d4:info99999999999999999999:abce"),
    ("string_length_past_end", "invalidBencode", b"d4:infod4:name500:abcee"),
    ("unterminated_dictionary", "invalidBencode", b"d4:infod4:name1:x"),
    ("unterminated_integer", "invalidBencode", b"d4:infod6:lengthi100"),
    ("integer_without_digits", "invalidBencode", benc(v1_single()).replace(b"i100e", b"ie")),
    ("dictionary_key_not_string", "invalidBencode", b"di1ei2ee"),
    ("unsorted_info_keys", "opens",
     b"d4:infod6:pieces20:" + H20 + b"4:name5:a.bin12:piece lengthi16384e6:lengthi100eee"),
    ("duplicate_info_keys", "invalidBencode", b"d4:infod6:lengthi100e6:lengthi100e4:name5:a.bin12:piece lengthi16384e6:pieces20:"
     + H20 + b"ee"),
    ("empty_name", "missingField", benc(v1_single(name=""))),
    ("dot_name", "missingField", benc(v1_single(name="."))),
    ("name_invalid_utf8", "opens", benc(v1_single(name=b"a\xff\xfeb.bin"))),
    ("name_utf8_key", "opens", benc(v1_single(**{"name.utf-8": "b.bin"}))),
    ("name_list", "invalidField", benc(v1_single(name=["a"]))),
    ("piece_length_list", "invalidField", benc(v1_single(**{"piece length": [16384]}))),
    ("piece_length_odd", "opens", benc(v1_single(**{"piece length": 1000}))),
    ("piece_length_overflow", "invalidPieceLength", benc(v1_single(**{"piece length": 1 << 62}))),
    ("pieces_empty", "pieceCountMismatch", benc(v1_single(pieces=b""))),
    ("pieces_list", "invalidPieceHashes", benc(v1_single(pieces=[H20]))),
    ("length_string", "invalidField", benc(v1_single(length="100"))),
    ("zero_length", "invalidFileLength", benc(v1_single(length=0, pieces=b""))),
    ("all_files_empty", "invalidFileLength", benc(v1_multi([f(["a"], 0), f(["b"], 0)], pieces=b""))),
    ("length_and_files", "opens", benc(v1_multi([f(["a"], 10)], length=10))),
    ("huge_piece_count", "invalidFileLength", benc(v1_single(length=1 << 45, pieces=H20))),
    ("file_length_overflow", "invalidFileLength", benc(v1_multi([f(["a"], (1 << 63) - 1), f(["b"], 10)]))),
    ("path_utf8_key", "opens", benc(v1_multi([f(["a"], **{"path.utf-8": ["b"]})]))),
    ("path_only_parent", "opens", benc(v1_multi([f([".."])]))),
    ("path_invalid_utf8", "opens", benc(v1_multi([f([b"\xff\xfe"])]))),
    ("pad_file", "opens", benc(v1_multi([f(["a"], PL), f([".pad", "1"], 10, attr="p"), f(["b"], 10)],
                                    pieces=H20 * 2))),
    ("executable_attr", "opens", benc(v1_multi([f(["a"], 10, attr="x")]))),
    ("symlink_without_target", "opens", benc(v1_multi([f(["a"], 0, attr="l"), f(["b"], 10)]))),
    ("symlink_outside", "opens", benc(v1_multi([f(["a"], 0, attr="l", **{"symlink path": ["..", "..", "x"]}),
                                           f(["b"], 10)]))),
    ("announce_not_string", "opens", dict(v1_single(), announce=5)),
    ("announce_list_garbage", "opens", dict(v1_single(), **{"announce-list": [5, ["x", 7], "y"]})),
    ("url_list_integer", "opens", dict(v1_single(), **{"url-list": 5})),
    ("creation_date_string", "opens", dict(v1_single(), **{"creation date": "yesterday"})),
    ("comment_integer", "opens", dict(v1_single(), comment=5)),
    ("nodes_garbage", "opens", dict(v1_single(), nodes=[5, ["h"], ["h", "p"]])),
    ("private_string", "opens", {"info": dict(v1_single()["info"], private="yes")}),
    ("v2_zero_length_file", "opens", benc(v2({"a": leaf(0, root=None), "b": leaf(10)}))),
    ("v2_zero_root", "missingPiecesRoot", benc(v2({"a": leaf(10, root=b"\x00" * 32)}))),
    ("v2_missing_name", "missingField", benc(v2({"a": leaf(10)}, name=None))),
    ("v2_missing_piece_length", "missingField", benc(v2({"a": leaf(10)}, **{"piece length": None}))),
    ("v2_unknown_piece_layer", "invalidPieceLayers", benc(v2({"a": leaf(3 * PL)}, layers={b"\x44" * 32: b"\x33" * 96}))),
    ("v2_piece_layer_not_string", "invalidPieceLayers", benc(v2({"a": leaf(3 * PL)}, layers={R32: 5}))),
    ("v2_empty_filename", "invalidFileTree", benc(v2({"": {"x": leaf(10)}}))),
    ("v2_length_string", "invalidField", benc(v2({"a": {"": {"length": "10", "pieces root": R32}}}))),
    ("v2_deep_folders", "opens", benc(v2(nest(60)))),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    lines = []
    for name, code, data in CASES:
        if not isinstance(data, (bytes, bytearray)):
            data = benc(data)
        with open(os.path.join(OUT, name + ".torrent"), "wb") as fh:
            fh.write(data)
        lines.append(f"{name}.torrent\t{code}\n")
    with open(os.path.join(OUT, "expected.tsv"), "w") as fh:
        fh.writelines(lines)
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()
