from devices.api.action_types import ActionTypeViewSet
from devices.api.booking_views import BookingViewSet
from devices.api.views import DeviceViewSet
from labcore.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("devices", DeviceViewSet, basename="device")
router.register("bookings", BookingViewSet, basename="booking")
router.register("action-types", ActionTypeViewSet, basename="action-type")

urlpatterns = router.urls
