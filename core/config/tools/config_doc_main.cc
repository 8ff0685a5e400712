// sy_config_doc DESCRIPTOR_SET ROOT_MESSAGE [--out FILE] [--check]
//
// Reads a descriptor set written by `protoc --include_source_info --descriptor_set_out`, and
// writes the Markdown reference of ROOT_MESSAGE (--out) and/or fails listing every message, field
// and enum value without a comment (--check). Used by the build to produce docs/config.md.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include "core/config/config_reference.h"

int main(int argc, char** argv) {
  namespace pb = google::protobuf;
  if (argc < 3) {
    std::cerr << "usage: sy_config_doc DESCRIPTOR_SET ROOT_MESSAGE [--out FILE] [--check]\n";
    return 2;
  }
  std::string out_path;
  bool check = false;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--check") {
      check = true;
    } else if (arg == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      std::cerr << "sy_config_doc: unknown argument '" << arg << "'\n";
      return 2;
    }
  }
  std::ifstream in(argv[1], std::ios::binary);
  pb::FileDescriptorSet set;
  if (!in || !set.ParseFromIstream(&in)) {
    std::cerr << "sy_config_doc: cannot read descriptor set " << argv[1] << "\n";
    return 1;
  }
  pb::DescriptorPool pool;
  for (const pb::FileDescriptorProto& file : set.file()) {
    if (pool.BuildFile(file) == nullptr) {
      std::cerr << "sy_config_doc: cannot build " << file.name() << "\n";
      return 1;
    }
  }
  const pb::Descriptor* root = pool.FindMessageTypeByName(argv[2]);
  if (root == nullptr) {
    std::cerr << "sy_config_doc: no message " << argv[2] << " in " << argv[1] << "\n";
    return 1;
  }
  if (!out_path.empty()) {
    const std::string tmp = out_path + ".tmp";
    std::ofstream out(tmp);
    out << switchyard::config::config_reference_markdown(root);
    out.close();
    if (!out || std::rename(tmp.c_str(), out_path.c_str()) != 0) {
      std::cerr << "sy_config_doc: cannot write " << out_path << "\n";
      return 1;
    }
  }
  if (check) {
    const auto missing = switchyard::config::undocumented_elements(root);
    for (const std::string& m : missing) std::cerr << "undocumented: " << m << "\n";
    if (!missing.empty()) {
      std::cerr << "sy_config_doc: " << missing.size()
                << " schema element(s) have no comment; the comments are the documentation\n";
      return 1;
    }
    std::cout << "sy_config_doc: every message, field and enum value is documented\n";
  }
  return 0;
}
