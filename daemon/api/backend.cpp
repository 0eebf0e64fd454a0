#include "api/backend.hpp"

namespace isolated::api {

std::string to_string(AppAction action) {
    switch (action) {
        case AppAction::start: return "start";
        case AppAction::stop: return "stop";
        case AppAction::restart: return "restart";
    }
    return "unknown";
}

std::optional<AppAction> app_action_from_string(std::string_view s) {
    for (auto action : {AppAction::start, AppAction::stop, AppAction::restart})
        if (to_string(action) == s) return action;
    return std::nullopt;
}

}  // namespace isolated::api
