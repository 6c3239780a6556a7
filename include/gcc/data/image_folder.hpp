// Generic image-folder datasets (root/<class>/**/*.png|jpg|jpeg|bmp, as torchvision's ImageFolder) and
// "relative_path label" list files, loaded through the decoded-image cache at a fixed S x S size.
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "dataset.hpp"
#include "image_cache.hpp"
#include "image_decode.hpp"

namespace gcc {

namespace data_detail {

// Image files under `dir` (recursively, following symbolic links), as paths relative to `base`, sorted
// as ImageFolder does: by containing folder, then by file name (byte order).
inline std::vector<std::string> list_images_under(const std::string& dir, const std::string& base) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, std::string>> found;  // (folder relative to base, file name)
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
  GCC_CHECK(!ec, "image folder: cannot list '", dir, "' (", ec.message(), ")");
  for (; it != end; it.increment(ec)) {
    GCC_CHECK(!ec, "image folder: error while listing '", dir, "' (", ec.message(), ")");
    std::error_code e2;
    if (!it->is_regular_file(e2)) continue;
    const fs::path& p = it->path();
    const std::string fname = p.filename().string();
    if (!is_image_file_name(fname)) continue;
    found.emplace_back(p.parent_path().lexically_relative(base).string(), fname);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& f : found) out.push_back(f.first == "." || f.first.empty() ? f.second : f.first + "/" + f.second);
  return out;
}

// Names of the sub-folders of `dir` (following links), sorted.
inline std::vector<std::string> sub_folders(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (it->is_directory(e2)) out.push_back(it->path().filename().string());
  }
  GCC_CHECK(!ec, "image folder: cannot list '", dir, "' (", ec.message(), ")");
  std::sort(out.begin(), out.end());
  return out;
}

// A list file's label field: a non-negative decimal integer (true, value in `label`).
inline bool parse_list_label(const std::string& s, int& label) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  label = std::stoi(s);
  return true;
}
// Looks like a mistyped label ("-1", "3.0", "2x"): starts with a digit or a minus sign and has no '.'
// followed by an image extension.
inline bool label_like(const std::string& s) {
  return !s.empty() && ((s[0] >= '0' && s[0] <= '9') || s[0] == '-') && !is_image_file_name(s);
}

}  // namespace data_detail

// Lists root/<class>/... like torchvision's ImageFolder: classes = sorted sub-folder names (label =
// position), images = files ending in .png/.jpg/.jpeg/.bmp (any case) found recursively in each class
// folder, sorted by folder then name. Throws on a missing root, no class folders, or an empty class.
inline ImageList list_image_folder(const std::string& root, const std::string& name = "image-folder") {
  using namespace data_detail;
  if (!is_dir(root))
    missing_root("list_image_folder", root, "a folder with one sub-folder of images per class (root/<class>/*.png|jpg)",
                 "Put your images there, or pass the right folder");
  ImageList list;
  list.root = root;
  list.name = name;
  list.class_names = sub_folders(root);
  GCC_CHECK(!list.class_names.empty(), "list_image_folder: '", root,
            "' has no sub-folders; expected one folder of images per class (root/<class>/*.png|jpg)");
  for (std::size_t c = 0; c < list.class_names.size(); ++c) {
    const std::string dir = join(root, list.class_names[c]);
    std::vector<std::string> files = list_images_under(dir, root);
    GCC_CHECK(!files.empty(), "list_image_folder: class folder '", dir,
              "' holds no image files (.png, .jpg, .jpeg, .bmp); add images or remove the folder");
    for (std::string& f : files) list.entries.push_back(ImageEntry{std::move(f), static_cast<int>(c)});
  }
  return list;
}

// Reads a list file: one image per line, "relative_path label" (the label is the last
// whitespace-separated field; paths are relative to `root`, "" = the list file's folder), or
// "relative_path" alone on every line (unlabelled images, label -1). Empty lines and lines starting with
// '#' are skipped. class_names: the names of labels 0..K-1 (when empty, the
// labels found are named "0".."K-1").
inline ImageList read_image_list_file(const std::string& list_file, std::string root = "",
                                      const std::vector<std::string>& class_names = {},
                                      const std::string& name = "image-list") {
  using namespace data_detail;
  GCC_CHECK(is_file(list_file), "read_image_list_file: '", list_file,
            "' does not exist; expected a text file with one \"relative_path label\" per line");
  if (root.empty()) root = std::filesystem::path(list_file).parent_path().string();
  if (root.empty()) root = ".";
  ImageList list;
  list.root = root;
  list.name = name;
  list.class_names = class_names;
  std::ifstream in(list_file);
  std::string line;
  int64_t line_no = 0, unlabelled = 0;
  int max_label = -1;
  while (std::getline(in, line)) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.find_last_of(" \t");
    std::string path = line;
    int label = -1;
    if (sp != std::string::npos && sp > 0 && parse_list_label(line.substr(sp + 1), label)) {
      path = line.substr(0, sp);
      while (!path.empty() && (path.back() == ' ' || path.back() == '\t')) path.pop_back();
    } else {
      label = -1;  // a line without a trailing integer: an unlabelled image
      ++unlabelled;
    }
    if (label < 0 && sp != std::string::npos && label_like(line.substr(sp + 1)))
      GCC_FAIL("read_image_list_file: '", list_file, "' line ", line_no, ": label '", line.substr(sp + 1),
               "' is not a non-negative integer; expected \"relative_path label\" or \"relative_path\"");
    GCC_CHECK(label >= -1 && (class_names.empty() || label < static_cast<int>(class_names.size())),
              "read_image_list_file: '", list_file, "' line ", line_no, ": label ", label, " is out of range 0..",
              (class_names.empty() ? std::string("") : std::to_string(class_names.size() - 1)));
    max_label = std::max(max_label, label);
    list.entries.push_back(ImageEntry{path, label});
  }
  GCC_CHECK(!list.entries.empty(), "read_image_list_file: '", list_file, "' lists no images");
  GCC_CHECK(unlabelled == 0 || unlabelled == static_cast<int64_t>(list.entries.size()), "read_image_list_file: '",
            list_file, "': ", unlabelled, " of ", list.entries.size(), " lines have no label; expected either a label "
            "on every line (\"relative_path label\") or on none (\"relative_path\")");
  if (list.class_names.empty())
    for (int i = 0; i <= max_label; ++i) list.class_names.push_back(std::to_string(i));
  return list;
}

// The images of a user's folder: with class sub-folders (and labelled = true) as list_image_folder;
// else every image under root, recursively, unlabelled (label -1, no class names). Throws when the
// folder does not exist or holds no image file.
inline ImageList list_user_folder(const std::string& root, bool labelled, const std::string& name = "image-folder") {
  using namespace data_detail;
  if (!is_dir(root))
    missing_root("list_user_folder", root, "a folder of images (.png, .jpg, .jpeg, .bmp), optionally one sub-folder per class",
                 "Pass the folder that holds your images");
  bool classes = false;
  if (labelled)
    for (const std::string& sub : sub_folders(root)) classes = classes || !list_images_under(join(root, sub), root).empty();
  if (classes) return list_image_folder(root, name);
  ImageList list;
  list.root = root;
  list.name = name;
  for (std::string& f : list_images_under(root, root)) list.entries.push_back(ImageEntry{std::move(f), -1});
  GCC_CHECK(!list.entries.empty(), "list_user_folder: '", root, "' holds no image files (.png, .jpg, .jpeg, .bmp), "
            "neither directly nor in sub-folders; expected your images there");
  return list;
}

// An image folder (see list_image_folder) as S x S x C images through the decoded-image cache.
// opt.size must be set; opt.channels = 3 turns grey images into 3 channels.
inline ImageDataset read_image_folder(const std::string& root, const ImageCacheOptions& opt,
                                      const std::string& name = "image-folder") {
  return load_image_list(list_image_folder(root, name), opt);
}

}  // namespace gcc
