#include <string>
#include <vector>

namespace geo {

// A polygon.
template <typename T>
class Polygon {
 public:
  explicit Polygon(std::vector<T> pts) : pts_(std::move(pts)) {}

  T area() const {
    return T{};
  }

 private:
  std::vector<T> pts_;
};

struct Box {
  int w, h;
};

double perimeter(const Box& b);

}  // namespace geo

double geo::perimeter(const Box& b) {
  return 2.0 * (b.w + b.h);
}
